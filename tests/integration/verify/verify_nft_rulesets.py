"""nftables rulesets shared by the verify tests (loaded only into private network namespaces)."""

GOOD_NFT = """
table inet filter {
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iifname "lo" accept
    tcp dport { 22, 80, 443 } accept
    ip saddr 10.42.0.0/16 udp dport 8472 accept
  }
}
"""

# The mistake to catch: flannel VXLAN opened to everybody.
BAD_NFT = """
table inet filter {
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    tcp dport { 22, 80, 443 } accept
    udp dport { 8472, 51820 } accept
  }
}
"""
