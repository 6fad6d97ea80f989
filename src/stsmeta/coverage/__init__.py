"""The coverage study: simulate datasets with the primary analysis's design and measure how each
method's interval covers the truth. `plan` reads the settings without numpy (the workflow imports it
at start); `study` simulates and fits; `figure` draws the heat map."""
