//! kubectl logs, exec and port-forward against the reference mesh.
