"""Reading a company's own files into the warehouse: detect, map, validate, quarantine, load."""
