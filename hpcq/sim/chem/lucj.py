"""LUCJ (local unitary cluster Jastrow) ansatz from ffsim (optional extra ``hpcq[lucj]``), as a
circuit with Qiskit Parameters.

ffsim's gates (``UCJOpSpinBalancedJW``) take fixed numbers, not Parameters, so a VQE would have to
rebuild and re-transpile the circuit for every parameter vector. Instead the same circuit is
written here with Parameters, gate for gate as ffsim's Jordan-Wigner decomposition emits it:

* ``PrepareHartreeFockJW`` (ffsim's gate: X on the occupied alpha and beta qubits);
* per repetition k: the orbital rotation U_k^+ (the inverse of U_k's circuit), the diagonal
  Coulomb evolution exp(i J_k) (PhaseGate / CPhaseGate on the interaction pairs, angles J), and U_k;
* the final orbital rotation (from the t1 amplitudes).

An orbital rotation is ffsim's Givens network: for n orbitals the n(n-1)/2 rotations
XXPlusYYGate(2 theta, beta) of ``ffsim.linalg.givens_decomposition`` (a fixed brickwork pattern)
then n PhaseGates, i.e. n^2 parameters (ffsim's count). Every angle is ``start + x_k``: the circuit
parameters x are displacements from the starting point (CCSD t-amplitudes via PySCF, as ffsim's
docs do, or zeros = the HF state), so x = 0 is the start and a VQE starts there.

Jordan-Wigner only: ffsim's circuits are Jordan-Wigner (blocked order, alpha qubits 0..n-1).
Checked against ffsim's own statevector and Hamiltonian to 1e-10 (tests/chem/test_lucj.py).
"""

from __future__ import annotations

import cmath
import importlib.util
import math
from functools import lru_cache

import numpy as np

EXTRA = "hpcq[lucj]"
MISSING = f"ansatz kind 'lucj' needs ffsim, which is not installed here; install the extra: pip install '{EXTRA}'"


def available() -> bool:
    return importlib.util.find_spec("ffsim") is not None


def require() -> None:
    if not available():
        raise ValueError(MISSING)


def interaction_pairs(norb: int, interaction: str, pairs_aa=None, pairs_ab=None):
    """(alpha-alpha, alpha-beta) pairs; 'local' = ffsim's LUCJ on a line (aa neighbours, ab on-site),
    'all' = every pair (full UCJ). Explicit lists override."""
    if interaction == "local":
        aa = [(p, p + 1) for p in range(norb - 1)]
        ab = [(p, p) for p in range(norb)]
    else:
        aa = [(i, j) for i in range(norb) for j in range(i, norb)]
        ab = [(i, j) for i in range(norb) for j in range(i, norb)]
    if pairs_aa is not None:
        aa = [tuple(int(v) for v in p) for p in pairs_aa]
    if pairs_ab is not None:
        ab = [tuple(int(v) for v in p) for p in pairs_ab]
    for name, pairs in (("pairs_aa", aa), ("pairs_ab", ab)):
        for p in pairs:
            if len(p) != 2 or not 0 <= p[0] <= p[1] < norb:
                raise ValueError(
                    f"ansatz.{name}: {list(p)} is not a pair 0 <= i <= j < {norb} (the active space's orbitals)"
                )
    return sorted(set(aa)), sorted(set(ab))


@lru_cache(maxsize=16)
def givens_pattern(norb: int) -> tuple[tuple[int, int], ...]:
    """The (i, j) slots of ffsim's Givens network for n orbitals (a generic unitary uses all of them)."""
    import ffsim
    from scipy.stats import unitary_group

    U = unitary_group.rvs(norb, random_state=1234) if norb > 1 else np.eye(1)
    rots, _ = ffsim.linalg.givens_decomposition(U)
    pattern = tuple((int(i), int(j)) for _, _, i, j in rots)
    if len(pattern) != norb * (norb - 1) // 2:
        raise RuntimeError(f"ffsim's Givens network for {norb} orbitals has {len(pattern)} rotations")
    return pattern


def orbital_rotation_angles(U: np.ndarray) -> np.ndarray:
    """U -> [theta_1, beta_1, ..., theta_L, beta_L, phase_1, ..., phase_n] on the fixed pattern.

    ffsim drops rotations that are the identity; its list is then a subsequence of the pattern, and
    placing it in order (identity in the unused slots) gives the same product."""
    import ffsim

    norb = len(U)
    pattern = givens_pattern(norb)
    rots, phases = ffsim.linalg.givens_decomposition(np.asarray(U, dtype=complex))
    out = np.zeros(2 * len(pattern) + norb)
    slot = 0
    for c, s, i, j in rots:
        while slot < len(pattern) and pattern[slot] != (i, j):
            slot += 1
        if slot == len(pattern):
            raise RuntimeError("ffsim's Givens rotations do not follow its pattern; ffsim version not supported")
        r, phi = cmath.polar(s)
        out[2 * slot] = math.atan2(r, c)  # XXPlusYYGate(2 theta, phi - pi/2), as ffsim emits it
        out[2 * slot + 1] = phi - 0.5 * math.pi
        slot += 1
    out[2 * len(pattern) :] = [cmath.phase(p) for p in phases]
    return out


def ucj_operator(problem, n_reps: int, pairs, init: str, final_rotation: bool = True):
    """ffsim's UCJOpSpinBalanced for the problem: from PySCF CCSD amplitudes of the active-space
    integrals (``init='ccsd'``) or all-zero parameters (``'zeros'``: the HF state)."""
    import ffsim

    norb = problem.spatial_orbitals
    if init == "ccsd":
        t1, t2 = ccsd_amplitudes(problem)
        op = ffsim.UCJOpSpinBalanced.from_t_amplitudes(
            t2, t1=t1 if final_rotation else None, n_reps=n_reps, interaction_pairs=pairs
        )
        if op.n_reps < n_reps:  # fewer t2 factors than reps: pad with identity repetitions
            zeros = ffsim.UCJOpSpinBalanced.from_parameters(
                np.zeros(ffsim.UCJOpSpinBalanced.n_params(norb, n_reps - op.n_reps, interaction_pairs=pairs)),
                norb=norb,
                n_reps=n_reps - op.n_reps,
                interaction_pairs=pairs,
            )
            op = ffsim.UCJOpSpinBalanced(
                diag_coulomb_mats=np.concatenate([op.diag_coulomb_mats, zeros.diag_coulomb_mats]),
                orbital_rotations=np.concatenate([op.orbital_rotations, zeros.orbital_rotations]),
                final_orbital_rotation=op.final_orbital_rotation,
            )
        if final_rotation and op.final_orbital_rotation is None:
            op = ffsim.UCJOpSpinBalanced(
                diag_coulomb_mats=op.diag_coulomb_mats,
                orbital_rotations=op.orbital_rotations,
                final_orbital_rotation=np.eye(norb, dtype=complex),
            )
        return op
    n = ffsim.UCJOpSpinBalanced.n_params(
        norb, n_reps, interaction_pairs=pairs, with_final_orbital_rotation=final_rotation
    )
    return ffsim.UCJOpSpinBalanced.from_parameters(
        np.zeros(n), norb=norb, n_reps=n_reps, interaction_pairs=pairs, with_final_orbital_rotation=final_rotation
    )


def _integrals(problem):
    from hpcq.sim.problems import integrals

    ints = integrals(problem)
    if ints is None:
        raise ValueError(
            f"ansatz.initial_parameters: ccsd needs integrals, which kind {problem.kind!r} has not; "
            "use initial_parameters: zeros"
        )
    return ints


def ccsd_amplitudes(problem) -> tuple[np.ndarray, np.ndarray]:
    """PySCF RCCSD t1, t2 of the active-space integrals, in exactly their orbital basis (the RHF
    canonical orbitals: mo_coeff = 1, no new SCF), as ffsim's from_t_amplitudes wants them."""
    from pyscf import ao2mo, cc, gto, scf

    ints = _integrals(problem)
    na, nb = (int(v) for v in ints.nelec)
    if na != nb:
        raise ValueError(
            f"ansatz.initial_parameters: ccsd needs a closed-shell active space (N_alpha = N_beta), this one "
            f"has ({na}, {nb}); use initial_parameters: zeros"
        )
    n = int(ints.norb)
    mol = gto.M(verbose=0)
    mol.nelectron, mol.incore_anyway = na + nb, True
    mf = scf.RHF(mol)
    mf.get_hcore = lambda *a: np.asarray(ints.h1)
    mf.get_ovlp = lambda *a: np.eye(n)
    mf._eri = ao2mo.restore(8, np.asarray(ints.h2), n)
    mf.mo_coeff, mf.mo_occ = np.eye(n), np.array([2.0] * na + [0.0] * (n - na))
    mf.mo_energy = np.diag(mf.get_fock(dm=mf.make_rdm1())).copy()
    mf.e_tot = float(mf.energy_tot(dm=mf.make_rdm1()))
    mycc = cc.CCSD(mf)
    mycc.verbose, mycc.conv_tol, mycc.conv_tol_normt = 0, 1e-10, 1e-8
    mycc.kernel()
    if not mycc.converged:
        raise RuntimeError("PySCF CCSD did not converge; use ansatz.initial_parameters: zeros")
    return np.asarray(mycc.t1), np.asarray(mycc.t2)


def molecular_data(problem):
    """ffsim.MolecularData of the problem's active-space integrals (totals: ecore included)."""
    import ffsim

    ints = _integrals(problem)
    return ffsim.MolecularData(
        core_energy=float(ints.ecore),
        one_body_integrals=np.asarray(ints.h1),
        two_body_integrals=np.asarray(ints.h2),
        norb=int(ints.norb),
        nelec=tuple(int(v) for v in ints.nelec),
    )


@lru_cache(maxsize=8)
def _template(name: str):
    """A gate with plain Parameters, transpiled once to the simulator's basis: binding the angle
    expressions into it later is fast, while the transpiler is slow on expression-valued gates
    (20 s for 100 XXPlusYY gates at 12 qubits against 0.03 s)."""
    from qiskit import QuantumCircuit, transpile
    from qiskit.circuit import ParameterVector
    from qiskit.circuit.library import CPhaseGate, PhaseGate, XXPlusYYGate

    from hpcq.sim.noise import BASIS_GATES

    gate, nq, npar = {"xx": (XXPlusYYGate, 2, 2), "cp": (CPhaseGate, 2, 1), "p": (PhaseGate, 1, 1)}[name]
    t = ParameterVector("t", npar)
    qc = QuantumCircuit(nq)
    qc.append(gate(*t), range(nq))
    return transpile(qc, basis_gates=BASIS_GATES, optimization_level=1, seed_transpiler=0), tuple(t)


def _put(qc, name: str, angles, qubits) -> None:
    tmpl, t = _template(name)
    qc.compose(tmpl.assign_parameters(dict(zip(t, angles, strict=True))), qubits, inplace=True)


def lucj_circuit(problem, spec):
    """HF + LUCJ of an ansatz spec (kind lucj) with one Qiskit Parameter per ffsim parameter
    (x = 0 is the starting point: CCSD amplitudes or HF)."""
    require()
    norb, nelec = problem.spatial_orbitals, tuple(problem.electrons)
    pairs = interaction_pairs(norb, spec.interaction, spec.pairs_aa, spec.pairs_ab)
    op = ucj_operator(problem, spec.reps, pairs, spec.initial_parameters, spec.final_orbital_rotation)
    return operator_circuit(op, nelec, pairs)


def _parameter_blocks(op, pairs) -> list[tuple[str, np.ndarray]]:
    """The operator's parameters in circuit order: ('orb', start angles) and ('diag', aa values then
    ab values) per rep, then ('final', angles) when there is a final orbital rotation."""
    blocks = []
    for k in range(op.n_reps):
        blocks.append(("orb", orbital_rotation_angles(op.orbital_rotations[k])))
        mat_aa, mat_ab = op.diag_coulomb_mats[k]
        if not np.allclose(mat_ab, mat_ab.T, atol=1e-12):
            raise RuntimeError("ffsim's alpha-beta diagonal Coulomb matrix is not symmetric")
        for mat, allowed in ((mat_aa, pairs[0]), (mat_ab, pairs[1])):
            rest = np.triu(mat).copy()
            for i, j in allowed:
                rest[i, j] = 0.0
            if np.abs(rest).max(initial=0.0) > 1e-12:
                raise ValueError("the UCJ operator has diagonal Coulomb entries outside the interaction pairs")
        blocks.append(("diag", np.array([mat_aa[i, j] for i, j in pairs[0]] + [mat_ab[i, j] for i, j in pairs[1]])))
    if op.final_orbital_rotation is not None:
        blocks.append(("final", orbital_rotation_angles(op.final_orbital_rotation)))
    return blocks


def _orbital_layer(norb: int, angle: list, off: int):
    """One orbital rotation (both spins) from the angles at ``off``: Givens rotations, then phases."""
    from qiskit import QuantumCircuit

    pattern = givens_pattern(norb)
    sub = QuantumCircuit(2 * norb)
    for spin in (0, norb):
        for s, (i, j) in enumerate(pattern):
            _put(sub, "xx", (2 * angle[off + 2 * s], angle[off + 2 * s + 1]), [spin + i, spin + j])
        for i in range(norb):
            _put(sub, "p", (angle[off + 2 * len(pattern) + i],), [spin + i])
    return sub


def _diag_coulomb(qc, norb: int, pairs, angle: list, off: int) -> None:
    """exp(i J) from the angles at ``off``: ffsim's DiagCoulombEvolutionJW at time -1."""
    for m, (i, j) in enumerate(pairs[0]):
        a = angle[off + m]
        if i == j:
            _put(qc, "p", (0.5 * a,), [i])
            _put(qc, "p", (0.5 * a,), [norb + i])
        else:
            _put(qc, "cp", (a,), [i, j])
            _put(qc, "cp", (a,), [norb + i, norb + j])
    for m, (i, j) in enumerate(pairs[1]):
        a = angle[off + len(pairs[0]) + m]
        _put(qc, "cp", (a,), [i, norb + j])
        if i != j:
            _put(qc, "cp", (a,), [j, norb + i])


def operator_circuit(op, nelec: tuple[int, int], pairs):
    """HF + the UCJOpSpinBalanced ``op`` as a parameterised circuit: at x = 0 it is exactly ffsim's
    PrepareHartreeFockJW + UCJOpSpinBalancedJW(op); entries of its diagonal Coulomb matrices
    outside ``pairs`` (aa, ab) must be zero."""
    import ffsim
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterVector

    norb = op.norb
    blocks = _parameter_blocks(op, pairs)
    starts = [float(v) for b in blocks for v in b[1]]
    x = ParameterVector("l", len(starts))
    angle = [starts[i] + x[i] for i in range(len(starts))]

    qc = QuantumCircuit(2 * norb, name="LUCJ")
    qc.append(ffsim.qiskit.PrepareHartreeFockJW(norb, nelec), range(2 * norb))
    qc = qc.decompose()  # X gates only
    offsets = np.cumsum([0] + [len(b[1]) for b in blocks])
    for k, (kind, _) in enumerate(blocks):
        if kind == "orb":  # U_k^+ exp(i J_k) U_k; J_k is the next block
            rot = _orbital_layer(norb, angle, int(offsets[k]))
            qc.compose(rot.inverse(), inplace=True)
            _diag_coulomb(qc, norb, pairs, angle, int(offsets[k + 1]))
            qc.compose(rot, inplace=True)
        elif kind == "final":
            qc.compose(_orbital_layer(norb, angle, int(offsets[k])), inplace=True)
    qc.name = "LUCJ"
    return qc
