"""The front door (DESIGN stage 0): who sent a command, what time it is, whether it keeps the contract, and
which market it goes to. Pure: the Kafka gateway service (certx.kafka.gateway) and the embedded replay
(certx.replay) run the same `Door`."""
from certx.gateway.door import Admitted, Door

__all__ = ["Admitted", "Door"]
