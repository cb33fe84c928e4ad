//! Service networking: names, ClusterIP routing, NodePort and LoadBalancer ports.
