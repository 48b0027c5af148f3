"""The command line, `alertrouter …`: the commands (main), the digest command (digest), and what both
need (common: the config or a clear exit, the data directory's store)."""
