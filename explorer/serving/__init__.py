"""Layer 7, the shared server: background jobs with owners and quotas (jobs.py), the server limits in one place
(limits.py), the work budget of a page (budget.py), and the training, sweep and download tasks the pages
start (tasks.py). No Streamlit.

May import every engine layer (data to figures); never ui."""
