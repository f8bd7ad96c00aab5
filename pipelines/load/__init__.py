"""A load: one pipeline's run, from its lock to its summary, and what makes it safe to repeat.

The runner, the demo's simulator, the run lock, the first load into empty tables, the clean-up
after a failed first run, the repair a resumed load owes, and the dlt settings a load runs with.
"""
