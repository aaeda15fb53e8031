"""Chemistry for hpcq: molecules from first principles (PySCF), our own fermion-to-qubit mappings,
sector-exact references, chemistry ansatze and bring-your-own problem files (docs/chemistry.md).

Import layout (why): ``geometry`` and ``files`` (header parsing only) are pure Python, because
``hpcq.sim.spec`` sizes jobs on the login node without Qiskit or PySCF; everything else imports
NumPy/Qiskit and, for molecules, PySCF.
"""
