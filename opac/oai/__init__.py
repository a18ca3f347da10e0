"""OAI-PMH 2.0 data provider at ``/oai`` for union catalogues (Indonesia OneSearch) and harvesters."""
