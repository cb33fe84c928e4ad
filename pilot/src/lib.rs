//! pilot-lite: the mesh's Istio configuration translated into Envoy configuration and served over ADS.
