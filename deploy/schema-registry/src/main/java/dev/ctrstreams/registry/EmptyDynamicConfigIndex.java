package dev.ctrstreams.registry;

import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import java.util.List;
import javax.enterprise.context.ApplicationScoped;
import javax.enterprise.inject.Produces;
import javax.inject.Singleton;

/**
 * Apicurio's config-index build extension normally produces this bean (the
 * list of settings editable at run time); its -deployment artifact is not on
 * Maven Central, so the test registry runs with no run-time-editable settings.
 */
@ApplicationScoped
public class EmptyDynamicConfigIndex {
  @Produces
  @Singleton
  public DynamicConfigPropertyList dynamicConfigProperties() {
    return new DynamicConfigPropertyList(List.of());
  }
}
