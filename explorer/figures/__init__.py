"""Layer 6, the figures: Plotly figures from plain data, one module per figure family (panels shared by the
scan, units, counterfactual, replay; gradients; truncation; training), each returning a go.Figure.
No Streamlit.

May import every layer below (data to experiments); not readings, serving or ui."""
