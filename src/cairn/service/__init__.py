"""Use cases and rules; both the server and the embedded client call into this layer."""
