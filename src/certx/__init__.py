"""certx: an event-sourced trading engine for CEA, CCER and GEC."""
