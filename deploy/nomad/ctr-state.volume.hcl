# The CSI volumes behind the job's `per_alloc` state volume: one per allocation index,
# ctr-state[0] .. ctr-state[N-1]. Create once per instance with
#   nomad volume create deploy/nomad/ctr-state.volume.hcl   (edit id/name per index)
# The plugin id is the cluster's CSI plugin (e.g. aws-ebs0, hostpath-plugin0).
id        = "ctr-state[0]"
name      = "ctr-state[0]"
type      = "csi"
plugin_id = "hostpath-plugin0"

capacity_min = "20GiB"
capacity_max = "40GiB"

capability {
  access_mode     = "single-node-writer"
  attachment_mode = "file-system"
}

mount_options {
  fs_type = "ext4"
}
