"""Domain vocabulary shared by every layer: the data contract and the user-facing labels."""
