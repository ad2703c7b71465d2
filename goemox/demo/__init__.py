"""The Streamlit web demo: the page (`app`) and everything it computes, testable without a browser (`logic`)."""
