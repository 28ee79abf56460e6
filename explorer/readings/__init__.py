"""Layer 6, the sentences: one module per page (models, watch, gradients, math, sweep) turning engine results
into the words the app shows; formulas.py holds the equations with their numbers substituted. No Streamlit,
no Markdown: plain strings that tests check against an independent computation.

May import every layer below (data to experiments); not figures, serving or ui."""
