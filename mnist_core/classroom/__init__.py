"""The people: nicknames, the class collection, scoring on the class's handwriting, Train more on it, the
leaderboard and serving a school. Imports `runs`, `storage` and `net`."""
