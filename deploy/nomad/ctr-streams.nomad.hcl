# The recommendations application on Nomad (where the seed systems ran):
#   nomad volume create deploy/nomad/ctr-state.volume.hcl   (once; CSI, one volume per allocation)
#   nomad job run -var image=registry.example.com/ctr-streams:0.1.0 deploy/nomad/ctr-streams.nomad.hcl
#
# The same model as the Kubernetes StatefulSet: N allocations of ONE application.id, each
# with its own persistent state volume (per_alloc), rolled one at a time and only after the
# previous one is restored and RUNNING (the /health/ready check).

variable "image" {
  type        = string
  description = "The ctr-streams image (deploy/docker/Dockerfile)."
  default     = "ctr-streams:0.1.0"
}

variable "bootstrap_servers" {
  type        = string
  description = "Kafka bootstrap.servers, comma-separated host:port."
  default     = "kafka-1.service.consul:9092,kafka-2.service.consul:9092,kafka-3.service.consul:9092"
}

variable "instances" {
  type        = number
  description = "Instances of the application; at most the source topics' partition count."
  default     = 3
}

job "ctr-recommendations" {
  type        = "service"
  datacenters = ["*"]

  # One allocation at a time; an allocation is healthy when its checks pass (restored and
  # RUNNING) and stay passing for min_healthy_time. Restores can take minutes on a cold
  # volume, hence the long deadlines. A failed rollout reverts to the last good version.
  update {
    max_parallel      = 1
    health_check      = "checks"
    min_healthy_time  = "30s"
    healthy_deadline  = "15m"
    progress_deadline = "30m"
    auto_revert       = true
    stagger           = "30s"
  }

  group "app" {
    count = var.instances

    # Spread over nodes: one node loss moves a third of the tasks, not all of them.
    spread {
      attribute = "${node.unique.id}"
    }

    # per_alloc: allocation N always gets volume ctr-state[N], so a restarted or
    # rescheduled allocation finds its stores and restores only the changelog tail.
    volume "state" {
      type            = "csi"
      source          = "ctr-state"
      per_alloc       = true
      attachment_mode = "file-system"
      access_mode     = "single-node-writer"
    }

    network {
      port "metrics" {
        to = 9464
      }
    }

    service {
      name     = "ctr-recommendations"
      provider = "nomad"
      port     = "metrics"
      tags     = ["metrics", "prometheus"]

      # Readiness: RUNNING with every task restored (gates the rolling update).
      check {
        name     = "ready"
        type     = "http"
        path     = "/health/ready"
        interval = "10s"
        timeout  = "3s"
      }

      # Liveness: restart the task only when the process cannot make progress; a long
      # restore stays UP here. The grace covers start-up.
      check {
        name     = "live"
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "3s"

        check_restart {
          limit           = 6
          grace           = "60s"
          ignore_warnings = false
        }
      }
    }

    restart {
      attempts = 5
      interval = "10m"
      delay    = "15s"
      mode     = "delay"
    }

    task "app" {
      driver = "docker"

      config {
        image = var.image
        args  = ["run", "recommendations", "--config", "/local/ctr-streams.properties"]
        ports = ["metrics"]
        init  = true
      }

      # SIGTERM starts a clean shutdown (commit, close stores, leave the group); give it
      # longer than shutdown.timeout.ms before SIGKILL.
      kill_signal  = "SIGTERM"
      kill_timeout = "90s"

      volume_mount {
        volume      = "state"
        destination = "/var/lib/ctr-streams/state"
      }

      env {
        OTEL_SERVICE_NAME  = "ctr-recommendations"
        CTR_TELEMETRY_PORT = "9464"
        CTR_STATE_DIR      = "/var/lib/ctr-streams/state"
        # client.id per allocation: broker logs and quotas name the instance
        CTR_CLIENT_ID = "ctr-recommendations-${NOMAD_ALLOC_INDEX}"
        NODE_OPTIONS  = "--max-old-space-size=1536"
        # Spans over OTLP/HTTP (docs/operations.md, "Traces"): exported once an endpoint is set.
        # OTEL_EXPORTER_OTLP_ENDPOINT = "http://otel-collector.service.consul:4318"
        # OTEL_TRACES_SAMPLER_ARG     = "0.1"
      }

      template {
        destination = "local/ctr-streams.properties"
        change_mode = "restart"
        data        = <<-EOT
          application.id=ctr-recommendations
          bootstrap.servers=${var.bootstrap_servers}
          state.dir=/var/lib/ctr-streams/state
          processing.guarantee=at_least_once
          commit.interval.ms=30000
          replication.factor=3
          num.standby.replicas=0
          session.timeout.ms=45000
          heartbeat.interval.ms=3000
          default.deserialization.exception.handler=dead-letter
          processing.exception.handler=dead-letter
        EOT
      }

      # cpu is a share (MHz), not a hard cap, so the event loop is not throttled into missed
      # heartbeats; memory_max lets LevelDB and model memory burst above the reservation.
      resources {
        cpu        = 2000
        memory     = 1024
        memory_max = 2048
      }
    }
  }
}
