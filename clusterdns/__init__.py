"""Cluster DNS: answers the Kubernetes DNS specification from an informer cache.

``records`` turns one Service and its Endpoints into resource records (pure), ``zone``
indexes them and answers one question (pure), ``forward`` asks the node's own resolvers
for every name outside the cluster, ``server`` is the UDP and TCP front, ``cache`` keeps
the zone current from the API, ``kubedns`` publishes the ``kube-dns`` Service, and
``main`` is ``kubelab dns``.
"""
