"""Order books: pure data structures, no rules and no money. The engine decides; the books keep order."""
