"""The model: a graphical model on a junction tree fitted to measured marginals (``pgm``, on
``junction`` and ``factor``), and the Bayesian network of tree models and balanced mode (``network``)."""
