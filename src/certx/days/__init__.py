"""Real trading days as command streams (`certx days build`): the official figures of the CEA and CCER markets,
and GEC at DOMAIN's scale, replayed as the orders, registry, bank and operator commands that reproduce them.

- `official`: the packaged files (data/), read into fen and units;
- `exact`: trades that add up exactly to an official day (listing, block, auction);
- `listing`, `cea`, `ccer`, `gec`: a day of each market as commands, in strands (`script`);
- `background`: how much is quoted without trading, and why;
- `balances`: what the accounts hold and may commit, so no built order is refused;
- `cast`, `year`: who trades, and the registry's, bank's and operator's commands around the trading;
- `build`: a range of days streamed to a `.jsonl` file.
"""
