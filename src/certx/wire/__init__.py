"""The wire contract (PROTOCOL.md): msgspec Structs for commands and events, and their codec."""
