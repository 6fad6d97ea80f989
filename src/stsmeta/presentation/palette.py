"""The Okabe & Ito (2008) colour-blind-safe palette ("Color universal design").

Apart from stsmeta.figures.style so that code that only names colours (the risk-of-bias
judgements, which the report also reads) does not import matplotlib: that import was most of the
report job's time.
"""

BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
BLUISH_GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
REDDISH_PURPLE = "#CC79A7"
GREY = "#999999"
