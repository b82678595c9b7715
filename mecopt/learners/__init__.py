"""Learned heuristics: FedMeta2Ag (federated MAML with double aggregation), the learned
offloading policy and FedMetaR2Ag (PPO inside MAML). Needs the ``learn`` extra (torch)."""
