"""What every report uses: option files and atomic writes, output-path checks, Markdown and plot helpers."""
