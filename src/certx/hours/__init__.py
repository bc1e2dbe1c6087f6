"""Hours on monthly GECs (issue 13): an overlay that gives every certificate the hours its energy was produced in.

China's GECs are monthly: one certificate is 1 MWh of one project's production month. The registry may attest a
project-month's production hour by hour (`curve.attach`); the certificates of that month are in production order,
so certificate k of the month is the kWh [1000·k, 1000·k + 1000) of its cumulative curve (the previous month's
carried remainder first), and the hours of any serial range follow by binary search. Nothing is kept per
certificate or per hour as an object: a curve is one compact array of cumulative sums.

- `clock`: China time (UTC+8, no daylight saving) as absolute hours, months and hours of the day;
- `curve`: one project-month's curve, and the hours of a range of its certificates (`Curve.hours`);
- `overlay`: every attached curve, by project and month, and the rules a curve meets (the registry's desk,
  `certx.engine.registry`, refuses one that breaks them);
- `mask`: a bid's hour filter (an hour-of-day mask, an absolute window, a minimum share or all of a
  certificate's kWh inside), and which certificates of a range meet it;
- `classes`: a lot's certificates grouped by the hours of their energy, the 24/7 match's supply classes;
- `allocation`: the 24/7 match's problem, solved (greedy per hour where that is optimal, else HiGHS);
- `program`: one HiGHS program of that problem, with the fixed settings that make its answer a function of the input;
- `covering`: when an answer fills every hour as far as the supply can, its cost bounded and lowered set by set of
  hours;
- `evidence`: the buyer's evidence of a match, per hour, with its scores and the hash of its inputs.

The overlay is not an official certificate, and certx trusts the curve's data: it checks only that it adds up.
"""
