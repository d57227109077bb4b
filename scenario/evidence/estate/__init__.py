"""The demo council's estate: its people and devices, and the plan of sizes, weeks and gaps."""
