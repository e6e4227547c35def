"""CustomResourceDefinitions (apiextensions.k8s.io/v1): what a CRD declares (``definition``)
and how its structural schema checks, prunes and defaults custom objects (``schema``).

Pure: the apiserver stores CRDs, fills ``api.registry``'s overlay from them and calls these.
"""
