"""Platform adapters: one module per network behind the interface in platforms.base."""
