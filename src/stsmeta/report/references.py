"""The methods references of the report, and which settings call for which reference."""

from __future__ import annotations

REFERENCES = {
    "clopper1934": "Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated "
    "in the case of the binomial. Biometrika 1934;26(4):404-413.",
    "stijnen2010": "Stijnen T, Hamza TH, Özdemir P. Random effects meta-analysis of event outcome "
    "in the framework of the generalized linear mixed model with applications in sparse data. "
    "Stat Med 2010;29(29):3046-3067.",
    "schwarzer2019": "Schwarzer G, Chemaitelly H, Abu-Raddad LJ, Rücker G. Seriously misleading "
    "results using inverse of Freeman-Tukey double arcsine transformation in meta-analysis of "
    "single proportions. Res Synth Methods 2019;10(3):476-483.",
    "dersimonian1986": "DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin "
    "Trials 1986;7(3):177-188.",
    "freeman1950": "Freeman MF, Tukey JW. Transformations related to the angular and the square "
    "root. Ann Math Stat 1950;21(4):607-611.",
    "miller1978": "Miller JJ. The inverse of the Freeman-Tukey double arcsine transformation. "
    "Am Stat 1978;32(4):138.",
    "hartung2001": "Hartung J, Knapp G. A refined method for the meta-analysis of controlled "
    "clinical trials with binary outcome. Stat Med 2001;20(24):3875-3889.",
    "inthout2014": "IntHout J, Ioannidis JPA, Borm GF. The Hartung-Knapp-Sidik-Jonkman method for "
    "random effects meta-analysis is straightforward and considerably outperforms the standard "
    "DerSimonian-Laird method. BMC Med Res Methodol 2014;14:25.",
    "higgins2009": "Higgins JPT, Thompson SG, Spiegelhalter DJ. A re-evaluation of random-effects "
    "meta-analysis. J R Stat Soc Ser A 2009;172(1):137-159.",
    "higgins2002": "Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. "
    "Stat Med 2002;21(11):1539-1558.",
    "viechtbauer2005": "Viechtbauer W. Bias and efficiency of meta-analytic variance estimators in "
    "the random-effects model. J Educ Behav Stat 2005;30(3):261-293.",
    "viechtbauer2007": "Viechtbauer W. Confidence intervals for the amount of heterogeneity in "
    "meta-analysis. Stat Med 2007;26(1):37-52.",
    "liu1994": "Liu Q, Pierce DA. A note on Gauss-Hermite quadrature. Biometrika "
    "1994;81(3):624-629.",
    "morris2019": "Morris TP, White IR, Crowther MJ. Using simulation studies to evaluate "
    "statistical methods. Stat Med 2019;38(11):2074-2102.",
    "viechtbauer2010": "Viechtbauer W. Conducting meta-analyses in R with the metafor package. "
    "J Stat Softw 2010;36(3):1-48.",
    "murad2018": "Murad MH, Sultan S, Haffar S, Bazerbachi F. Methodological quality and synthesis "
    "of case series and case reports. BMJ Evid Based Med 2018;23(2):60-63.",
    "friede2017a": "Friede T, Röver C, Wandel S, Neuenschwander B. Meta-analysis of two studies in "
    "the presence of heterogeneity with applications in rare diseases. Biom J "
    "2017;59(4):658-671.",
    "friede2017b": "Friede T, Röver C, Wandel S, Neuenschwander B. Meta-analysis of few small "
    "studies in orphan diseases. Res Synth Methods 2017;8(1):79-91.",
    "rover2021": "Röver C, Bender R, Dias S, Schmid CH, Schmidli H, Sturtz S, Weber S, Friede T. "
    "On weakly informative prior distributions for the heterogeneity parameter in Bayesian "
    "random-effects meta-analysis. Res Synth Methods 2021;12(4):448-474.",
    "gunhan2020": "Günhan BK, Röver C, Friede T. Random-effects meta-analysis of few studies "
    "involving rare events. Res Synth Methods 2020;11(1):74-90.",
    "rover2015": "Röver C, Knapp G, Friede T. Hartung-Knapp-Sidik-Jonkman approach and its "
    "modification for random-effects meta-analysis with few studies. BMC Med Res Methodol "
    "2015;15:99.",
    "iorio2015": "Iorio A, Spencer FA, Falavigna M, et al. Use of GRADE for assessment of evidence "
    "about prognosis: rating confidence in estimates of event rates in broad categories of "
    "patients. BMJ 2015;350:h870.",
    "page2021": "Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement: an updated "
    "guideline for reporting systematic reviews. BMJ 2021;372:n71.",
}


# How each reference is cited in the text.
SHORT = {
    "clopper1934": "Clopper & Pearson 1934",
    "stijnen2010": "Stijnen, Hamza & Özdemir 2010",
    "schwarzer2019": "Schwarzer et al. 2019",
    "dersimonian1986": "DerSimonian & Laird 1986",
    "freeman1950": "Freeman & Tukey 1950",
    "miller1978": "Miller 1978",
    "hartung2001": "Hartung & Knapp 2001",
    "inthout2014": "IntHout et al. 2014",
    "higgins2009": "Higgins et al. 2009",
    "higgins2002": "Higgins & Thompson 2002",
    "viechtbauer2005": "Viechtbauer 2005",
    "viechtbauer2007": "Viechtbauer 2007",
    "liu1994": "Liu & Pierce 1994",
    "morris2019": "Morris, White & Crowther 2019",
    "viechtbauer2010": "Viechtbauer 2010",
    "murad2018": "Murad et al. 2018",
    "friede2017a": "Friede et al. 2017a",
    "friede2017b": "Friede et al. 2017b",
    "rover2021": "Röver et al. 2021",
    "gunhan2020": "Günhan, Röver & Friede 2020",
    "rover2015": "Röver, Knapp & Friede 2015",
    "iorio2015": "Iorio et al. 2015",
    "page2021": "Page et al. 2021",
}


def references_for(settings: dict) -> list[str]:
    """Reference keys for one method's settings (method, transform, tau2, ci, pi, study_ci)."""
    keys = []
    method = str(settings.get("method", "")).lower()
    transform = str(settings.get("transform", "")).lower()
    tau2 = str(settings.get("tau2", "")).upper()
    ci = str(settings.get("ci", "")).lower()
    if method == "glmm":
        # Liu & Pierce: the adaptive Gauss-Hermite quadrature of the likelihood.
        keys += ["stijnen2010", "schwarzer2019", "liu1994"]
    elif method == "common":
        keys += ["clopper1934"]
    elif method == "bayes":
        # The binomial-normal model with weakly informative priors for few, small studies; the
        # priors' references are in the methods' paragraph on priors.
        keys += ["gunhan2020"]
    elif method == "ivre":
        if transform == "ft":
            # Schwarzer et al.: the back-transformation can mislead with small, unequal n.
            keys += ["freeman1950", "miller1978", "schwarzer2019"]
        if tau2 == "DL":
            keys += ["dersimonian1986"]
        elif tau2 == "REML":
            keys += ["viechtbauer2005"]
        keys += ["viechtbauer2007"]  # the Q-profile interval of tau2
    if ci == "hk":
        keys += ["hartung2001", "inthout2014"]
    elif ci == "hk-adhoc":
        keys += ["hartung2001", "rover2015"]
    if settings.get("pi") and method != "common":
        keys += ["higgins2009"]
    if method != "common":
        keys += ["higgins2002"]  # I2, printed for every random-effects method
    if str(settings.get("study_ci", "")).lower() == "cp":
        keys += ["clopper1934"]  # the studies' own intervals
    return keys


def cite(keys: list[str]) -> str:
    """``(Stijnen 2010; Schwarzer 2019)`` from reference keys."""
    if not keys:
        return ""
    names = [SHORT[k] for k in dict.fromkeys(keys)]
    return "(" + "; ".join(names) + ")"
