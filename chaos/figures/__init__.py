"""Charts of runs and traffic: the one set of figures the HTML report and the notebooks
draw (matplotlib, Agg canvas; every figure shows itself in Jupyter)."""
