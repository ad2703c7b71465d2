"""How a model behaves on other domains: domain shift statistics, out-of-domain detection, the bias probe."""
