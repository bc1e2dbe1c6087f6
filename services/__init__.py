"""The FastStream apps that run certx on Kafka: the matcher (and, later, the settlement projector)."""
