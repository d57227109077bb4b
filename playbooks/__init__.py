"""playbooks"""
