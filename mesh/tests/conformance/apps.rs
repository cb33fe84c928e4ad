//! Bookinfo, nginx and the client workloads, driven through the real kubectl.
