"""The certificate registry: issued GEC serial ranges and their attributes, and who may issue what (G3)."""
