"""Distributed-PV aggregators (issue 13): an agent's mandates from many projects, and its pooled lots, whose
fills are allocated back to the projects' owners by a rule fixed when the lot is listed."""
