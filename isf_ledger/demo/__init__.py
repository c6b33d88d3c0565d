"""Demo data: a made-up provider loaded through the operations below it, never copies of them."""
