"""The least a Streamlit page can be (one line of text): bench/load.py --floor measures a crowd against it, the
floor under any page this server runs."""

import streamlit as st

st.write("floor")
