"""The FastStream apps that run certx on Kafka: the gateway, the matcher and the settlement projector, each with a
module-level `app` (`faststream run services.matcher:app`), and the supervisor `certx serve` runs them under."""
