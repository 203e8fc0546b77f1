// Differentiable MLS-MPM (mpm_diff.hpp): the stress-given transfer as a torch autograd Function
// whose backward is the hand-written adjoint of mpm_transfer.cpp; the law runs in LibTorch.
#include "physml/simulators/mpm_diff.hpp"

#include "physml/core/error.hpp"
#include "physml/core/revolve.hpp"
#include "physml/operators/nclaw.hpp"
#include "physml/operators/registry.hpp"
#include "mpm_transfer.hpp"

#include <torch/torch.h>

#include <atomic>
#include <cmath>
#include <tuple>
#include <utility>

namespace physml::simulators {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// The kernel parameters travel through the autograd context as plain values.
void save_params(AutogradContext* ctx, const detail::MPMKernelParams& p, int dim) {
  ctx->saved_data["dim"] = dim;
  ctx->saved_data["cells"] = std::vector<std::int64_t>(p.cells.begin(), p.cells.end());
  ctx->saved_data["nodes"] = std::vector<std::int64_t>(p.nodes.begin(), p.nodes.end());
  ctx->saved_data["length"] = std::vector<double>(p.length.begin(), p.length.end());
  ctx->saved_data["gravity"] = std::vector<double>(p.gravity.begin(), p.gravity.end());
  ctx->saved_data["dx"] = p.dx;
  ctx->saved_data["dt"] = p.dt;
  ctx->saved_data["clamp"] = p.clamp_cells;
  ctx->saved_data["band"] = p.boundary_cells;
  ctx->saved_data["no_slip"] = p.no_slip;
  ctx->saved_data["apic"] = p.apic;
  ctx->saved_data["threads"] = static_cast<std::int64_t>(p.threads);
}

detail::MPMKernelParams load_params(AutogradContext* ctx) {
  detail::MPMKernelParams p;
  auto ints = [&](const char* k, std::array<std::int64_t, 3>& a) {
    const auto v = ctx->saved_data[k].toIntVector();
    std::copy(v.begin(), v.end(), a.begin());
  };
  auto reals = [&](const char* k, std::array<double, 3>& a) {
    const auto v = ctx->saved_data[k].toDoubleVector();
    std::copy(v.begin(), v.end(), a.begin());
  };
  ints("cells", p.cells);
  ints("nodes", p.nodes);
  reals("length", p.length);
  reals("gravity", p.gravity);
  p.dx = ctx->saved_data["dx"].toDouble();
  p.dt = ctx->saved_data["dt"].toDouble();
  p.clamp_cells = ctx->saved_data["clamp"].toDouble();
  p.boundary_cells = ctx->saved_data["band"].toInt();
  p.no_slip = ctx->saved_data["no_slip"].toBool();
  p.apic = ctx->saved_data["apic"].toBool();
  p.threads = static_cast<int>(ctx->saved_data["threads"].toInt());
  return p;
}

template <typename T>
detail::TransferInput<T> input_of(const std::vector<at::Tensor>& t) {  // x, v, C, F, tau, volume, mass
  detail::TransferInput<T> in;
  in.n = t[0].size(0);
  in.x = t[0].data_ptr<T>();
  in.v = t[1].data_ptr<T>();
  in.C = t[2].data_ptr<T>();
  in.F = t[3].data_ptr<T>();
  in.tau = t[4].data_ptr<T>();
  in.volume = t[5].data_ptr<T>();
  in.mass = t[6].data_ptr<T>();
  return in;
}

template <typename T>
detail::TransferBuffers<T> buffers_of(const at::Tensor& x, const at::Tensor& v, const at::Tensor& C, const at::Tensor& F) {
  return {x.data_ptr<T>(), v.data_ptr<T>(), C.data_ptr<T>(), F.data_ptr<T>()};
}

/// Scratch grids per dtype (the kernels resize them).
template <typename T>
std::vector<std::vector<T>>& scratch() {
  static thread_local std::vector<std::vector<T>> g;
  return g;
}

/// Returns the number of particles clamped back into the domain.
template <typename T>
std::int64_t run_forward(const detail::MPMKernelParams& p, int dim, const std::vector<at::Tensor>& in,
                         const at::Tensor& x, const at::Tensor& v, const at::Tensor& C, const at::Tensor& F) {
  const auto i = input_of<T>(in);
  const auto o = buffers_of<T>(x, v, C, F);
  if (dim == 2) return detail::mpm_transfer<T, 2>(p, i, o, scratch<T>());
  return detail::mpm_transfer<T, 3>(p, i, o, scratch<T>());
}

template <typename T>
void run_adjoint(const detail::MPMKernelParams& p, int dim, const std::vector<at::Tensor>& in,
                 const std::vector<at::Tensor>& go, const std::vector<at::Tensor>& gi, const at::Tensor& gtau) {
  const auto i = input_of<T>(in);
  const auto o = buffers_of<T>(go[0], go[1], go[2], go[3]);
  const auto r = buffers_of<T>(gi[0], gi[1], gi[2], gi[3]);
  if (dim == 2)
    detail::mpm_transfer_adjoint<T, 2>(p, i, o, r, gtau.data_ptr<T>(), scratch<T>());
  else
    detail::mpm_transfer_adjoint<T, 3>(p, i, o, r, gtau.data_ptr<T>(), scratch<T>());
}

/// CPU contiguous copies (the kernels run on the host; results go back to the input device).
at::Tensor host(const at::Tensor& t) { return t.detach().to(torch::kCPU).contiguous(); }

struct TransferFunction : public torch::autograd::Function<TransferFunction> {
  static variable_list forward(AutogradContext* ctx, at::Tensor x, at::Tensor v, at::Tensor C, at::Tensor F,
                               at::Tensor tau, at::Tensor volume, at::Tensor mass, const detail::MPMKernelParams* p,
                               int64_t dim, std::atomic<std::int64_t>* clamped) {
    const auto device = x.device();
    std::vector<at::Tensor> in{host(x), host(v), host(C), host(F), host(tau), host(volume), host(mass)};
    auto xo = torch::empty_like(in[0]), vo = torch::empty_like(in[1]), Co = torch::empty_like(in[2]),
         Fo = torch::empty_like(in[3]);
    *clamped += x.scalar_type() == torch::kDouble ? run_forward<double>(*p, static_cast<int>(dim), in, xo, vo, Co, Fo)
                                                  : run_forward<float>(*p, static_cast<int>(dim), in, xo, vo, Co, Fo);
    ctx->save_for_backward({in[0], in[1], in[2], in[3], in[4], in[5], in[6]});
    ctx->saved_data["device"] = std::string(device.str());
    save_params(ctx, *p, static_cast<int>(dim));
    return {xo.to(device), vo.to(device), Co.to(device), Fo.to(device)};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const auto p = load_params(ctx);
    const int dim = static_cast<int>(ctx->saved_data["dim"].toInt());
    const c10::Device device(ctx->saved_data["device"].toStringRef());
    std::vector<at::Tensor> in(saved.begin(), saved.end());
    std::vector<at::Tensor> go;
    for (size_t k = 0; k < 4; ++k)
      go.push_back(grad[k].defined() ? host(grad[k]).to(in[k].scalar_type()) : torch::zeros_like(in[k]));
    std::vector<at::Tensor> gi{torch::empty_like(in[0]), torch::empty_like(in[1]), torch::empty_like(in[2]),
                               torch::empty_like(in[3])};
    auto gtau = torch::empty_like(in[4]);
    if (in[0].scalar_type() == torch::kDouble)
      run_adjoint<double>(p, dim, in, go, gi, gtau);
    else
      run_adjoint<float>(p, dim, in, go, gi, gtau);
    return {gi[0].to(device), gi[1].to(device), gi[2].to(device), gi[3].to(device), gtau.to(device),
            at::Tensor(),     at::Tensor(),     at::Tensor(),     at::Tensor(),       at::Tensor()};
  }
};

}  // namespace

namespace {
/// det of [N, 2, 2] or [N, 3, 3] by the cofactor expansion: a few elementwise ops, differentiable
/// everywhere, where torch::linalg::det factorises each matrix (LU) and its backward solves
/// with the factors (LibTorch 1.13's batched lu_solve was 3.5x slower on 2 threads than on 1
/// at 10k matrices: bench_mpm --profile).
at::Tensor det_small(const at::Tensor& F) {
  PHYSML_CHECK(F.dim() == 3 && F.size(1) == F.size(2) && (F.size(1) == 2 || F.size(1) == 3),
               "determinant of deformation gradients: expected [N, 2, 2] or [N, 3, 3], got ", F.sizes());
  if (F.size(1) == 2)
    return F.select(1, 0).select(1, 0) * F.select(1, 1).select(1, 1) - F.select(1, 0).select(1, 1) * F.select(1, 1).select(1, 0);
  return (F.select(1, 0) * torch::linalg_cross(F.select(1, 1), F.select(1, 2), 1)).sum(1);
}
}  // namespace

TorchLaw neo_hookean_law(at::Tensor mu, at::Tensor lambda) {
  TorchLaw law;
  law.elastic = [mu, lambda](const at::Tensor& F) {
    const auto I = torch::eye(3, F.options()).expand_as(F);
    const auto J = det_small(F);
    return mu * (torch::matmul(F, F.transpose(1, 2)) - I) + (lambda * torch::log(J)).view({-1, 1, 1}) * I;
  };
  return law;
}

TorchLaw nclaw_law(std::shared_ptr<operators::Model> elastic, std::shared_ptr<operators::Model> plastic) {
  PHYSML_CHECK(elastic != nullptr, "nclaw_law: an elastic model is required");
  TorchLaw law;
  law.elastic = [elastic](const at::Tensor& F) { return elastic->forward(F); };
  if (plastic) law.plastic = [plastic](const at::Tensor& F) { return plastic->forward(F); };
  return law;
}

TorchLaw learned_law(std::shared_ptr<operators::Model> model) {
  PHYSML_CHECK(model != nullptr, "learned_law: no model");
  if (auto* m = dynamic_cast<operators::NCLawImpl*>(model.get())) {
    // The networks are owned by the composite; keep it alive with them.
    auto keep = [model](const std::shared_ptr<operators::Model>& net) {
      return std::shared_ptr<operators::Model>(model, net.get());
    };
    return nclaw_law(keep(m->elastic()), m->plastic() ? keep(m->plastic()) : nullptr);
  }
  const auto* u = dynamic_cast<const operators::NCLawUnconstrainedImpl*>(model.get());
  PHYSML_CHECK(dynamic_cast<const operators::NCLawElasticImpl*>(model.get()) != nullptr || (u && !u->options().plastic()),
               "a model of type '", model->type(), "' is not a constitutive law; expected nclaw, nclaw_elastic or ",
               "an elastic nclaw_unconstrained");
  return nclaw_law(std::move(model));
}

TorchLaw per_material_law(std::vector<TorchLaw> laws, const at::Tensor& material) {
  PHYSML_CHECK(!laws.empty(), "per_material_law: no law");
  PHYSML_CHECK(material.dim() == 1 && !material.is_floating_point(), "per_material_law: expected integer material ",
               "indices [N], got ", material.sizes(), " of ", material.scalar_type());
  for (std::size_t m = 0; m < laws.size(); ++m)
    PHYSML_CHECK(static_cast<bool>(laws[m].elastic), "per_material_law: law ", m, " has no elastic part");
  const auto mat = material.to(torch::kLong);
  const auto lo = mat.min().item<std::int64_t>(), hi = mat.max().item<std::int64_t>();
  PHYSML_CHECK(lo >= 0 && hi < static_cast<std::int64_t>(laws.size()), "per_material_law: material indices ", lo,
               "..", hi, " but ", laws.size(), " law(s)");
  // The particles of each material, once (the material of a particle does not change).
  std::vector<at::Tensor> index;
  for (std::size_t m = 0; m < laws.size(); ++m) index.push_back(torch::nonzero(mat == static_cast<std::int64_t>(m)).view(-1));
  const auto n = mat.size(0);
  auto apply = [laws, index, n](const at::Tensor& F, bool plastic) {
    PHYSML_CHECK(F.dim() >= 1 && F.size(0) == n, "per_material_law: ", F.sizes(), " deformation gradients for ", n,
                 " particles (the material indices it was built with)");
    if (laws.size() == 1) {  // one material: the law itself, without the index copies
      const auto& f = plastic ? laws.front().plastic : laws.front().elastic;
      return f ? f(F) : F;
    }
    at::Tensor out = plastic ? F : torch::zeros_like(F);
    for (std::size_t m = 0; m < laws.size(); ++m) {
      if (index[m].numel() == 0) continue;
      const auto& f = plastic ? laws[m].plastic : laws[m].elastic;
      if (!f) continue;  // (plastic only) F unchanged
      const auto idx = index[m].to(F.device());
      out = out.index_copy(0, idx, f(F.index_select(0, idx)));
    }
    return out;
  };
  TorchLaw law;
  law.elastic = [apply](const at::Tensor& F) { return apply(F, false); };
  bool any_plastic = false;
  for (const auto& l : laws) any_plastic = any_plastic || static_cast<bool>(l.plastic);
  if (any_plastic) law.plastic = [apply](const at::Tensor& F) { return apply(F, true); };
  return law;
}

namespace {

/// What a checkpointed rollout's backward pass needs besides the saved initial state.
struct RolloutState : torch::CustomClassHolder {
  const DifferentiableMPM* mpm = nullptr;
  TorchLaw law;
  std::vector<at::Tensor> params;  // the listed parameters that need a gradient
  std::vector<std::int64_t> versions;  // their versions in the forward pass (in-place changes)
  std::int64_t frames = 0, substeps = 1, checkpoints = 1;
  std::shared_ptr<std::int64_t> stored_states_max;
  std::atomic<std::int64_t>* clamped = nullptr;
  std::atomic<std::int64_t>* inverted = nullptr;
};

/// x, v, C, F, F_zz as one list (F_zz only in 2-D).
std::vector<at::Tensor> state_list(const MPMState& s) {
  std::vector<at::Tensor> l{s.x, s.v, s.C, s.F};
  if (s.F_zz.defined()) l.push_back(s.F_zz);
  return l;
}

/// Rolls `s` out `frames` frames of `substeps` substeps each; the positions after each frame, stacked,
/// and the last state.
std::pair<at::Tensor, MPMState> roll_frames(const DifferentiableMPM& mpm, MPMState s, const TorchLaw& law,
                                            std::int64_t frames, std::int64_t substeps) {
  std::vector<at::Tensor> xs;
  xs.reserve(static_cast<size_t>(frames));
  for (std::int64_t f = 0; f < frames; ++f) {
    for (std::int64_t k = 0; k < substeps; ++k) s = mpm.substep(s, law);
    xs.push_back(s.x);
  }
  return {torch::stack(xs), std::move(s)};
}

struct RolloutFunction : public torch::autograd::Function<RolloutFunction> {
  static variable_list forward(AutogradContext* ctx, at::Tensor x, at::Tensor v, at::Tensor C, at::Tensor F,
                               at::Tensor Fzz, at::Tensor flat, c10::intrusive_ptr<RolloutState> st) {
    torch::NoGradGuard ng;
    (void)flat;  // the parameters enter through the law; flat carries their gradients
    const bool two_d = Fzz.numel() > 0;
    const auto [xs, s] = roll_frames(*st->mpm, {x.detach(), v.detach(), C.detach(), F.detach(),
                                                two_d ? Fzz.detach() : at::Tensor()},
                                     st->law, st->frames, st->substeps);
    ctx->save_for_backward({x, v, C, F, Fzz});
    ctx->saved_data["state"] = c10::IValue::make_capsule(st);
    return {xs, s.x, s.v, s.C, s.F, two_d ? s.F_zz : torch::zeros({0}, x.options())};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    auto st = c10::static_intrusive_pointer_cast<RolloutState>(ctx->saved_data["state"].toCapsule());
    const auto saved = ctx->get_saved_variables();
    const bool two_d = saved[4].numel() > 0;
    const MPMState s0{saved[0].detach(), saved[1].detach(), saved[2].detach(), saved[3].detach(),
                      two_d ? saved[4].detach() : at::Tensor()};
    for (size_t q = 0; q < st->params.size(); ++q)
      PHYSML_CHECK(st->params[q]._version() == st->versions[q], "DifferentiableMPM::rollout: parameter ", q,
                   " was changed in place after the forward pass; the checkpointed backward pass replays the law "
                   "and needs the parameters of the forward pass");
    // The replays count clamped and inverted particles again; the forward pass has counted them.
    struct RestoreCounts {
      std::atomic<std::int64_t>*clamped, *inverted;
      std::int64_t c, i;
      ~RestoreCounts() {
        clamped->store(c);
        inverted->store(i);
      }
    } restore{st->clamped, st->inverted, st->clamped->load(), st->inverted->load()};
    const auto n_state = two_d ? 5 : 4;
    std::vector<at::Tensor> a(n_state);  // the adjoint of the state after the current step
    for (int k = 0; k < n_state; ++k)
      a[k] = grad[1 + k].defined() ? grad[1 + k].clone() : torch::zeros_like(saved[k]);
    const auto& gx = grad[0];
    if (gx.defined()) a[0] = a[0] + gx[st->frames - 1];
    std::vector<at::Tensor> pacc(st->params.size());
    const auto steps = st->frames * st->substeps;
    auto advance = [&](const MPMState& from, std::int64_t i0, std::int64_t i1) {
      torch::NoGradGuard ng;
      MPMState s = from;
      for (auto i = i0; i < i1; ++i) s = st->mpm->substep(s, st->law);
      return s;
    };
    auto reverse = [&](std::int64_t i, const MPMState& si) {
      torch::AutoGradMode on(true);
      MPMState in = si;
      for (at::Tensor* t : {&in.x, &in.v, &in.C, &in.F, &in.F_zz})
        if (t->defined()) *t = t->detach().requires_grad_(true);
      const auto out = st->mpm->substep(in, st->law);
      auto inputs = state_list(in);
      inputs.insert(inputs.end(), st->params.begin(), st->params.end());
      const auto res = torch::autograd::grad(state_list(out), inputs, a, /*retain_graph=*/false,
                                             /*create_graph=*/false, /*allow_unused=*/true);
      for (int k = 0; k < n_state; ++k) a[k] = res[k].defined() ? res[k] : torch::zeros_like(a[k]);
      for (size_t q = 0; q < pacc.size(); ++q) {
        const auto& g = res[n_state + q];
        if (g.defined()) pacc[q] = pacc[q].defined() ? pacc[q] + g : g;
      }
      if (gx.defined() && i > 0 && i % st->substeps == 0) a[0] = a[0] + gx[i / st->substeps - 1];
    };
    *st->stored_states_max = reverse_binomial<MPMState>(steps, st->checkpoints, s0, advance, reverse);
    std::vector<at::Tensor> flat;
    for (size_t q = 0; q < pacc.size(); ++q)
      flat.push_back((pacc[q].defined() ? pacc[q] : torch::zeros_like(st->params[q])).reshape(-1).to(torch::kDouble));
    return {a[0],
            a[1],
            a[2],
            a[3],
            two_d ? a[4] : at::Tensor(),
            flat.empty() ? at::Tensor() : torch::cat(flat),
            at::Tensor()};
  }
};

}  // namespace

struct DifferentiableMPM::Impl {
  MPMOptions options;
  detail::MPMKernelParams params;
  at::Tensor volume, mass;
  int dim = 3;
  mutable std::atomic<std::int64_t> clamped{0};
  mutable std::atomic<std::int64_t> inverted{0};
  bool allow_inverted = false;
};

DifferentiableMPM::DifferentiableMPM(const MPMOptions& options, const mesh::ParticleSet& particles)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->params = detail::mpm_kernel_params(options);
  impl_->dim = static_cast<int>(options.dim());
  PHYSML_CHECK(particles.size() > 0 && particles.dim() == options.dim(), "DifferentiableMPM: expected ", options.dim(),
               "-D particles, got ", particles.size(), " particles of dimension ", particles.dim());
  impl_->volume = particles.get("volume").detach().clone();
  impl_->mass = particles.get("mass").detach().clone();
}

DifferentiableMPM::~DifferentiableMPM() = default;
std::int64_t DifferentiableMPM::clamped_count() const { return impl_->clamped.load(); }
void DifferentiableMPM::allow_inverted(bool allow) { impl_->allow_inverted = allow; }
bool DifferentiableMPM::inverted_allowed() const { return impl_->allow_inverted; }
std::int64_t DifferentiableMPM::inverted_count() const { return impl_->inverted.load(); }

const MPMOptions& DifferentiableMPM::options() const { return impl_->options; }

MPMState DifferentiableMPM::state_of(const mesh::ParticleSet& p) {
  MPMState s;
  s.x = p.positions().detach().clone();
  s.v = p.velocities().detach().clone();
  s.C = p.get("C").detach().clone();
  s.F = p.get("F").detach().clone();
  if (p.has("F_zz")) s.F_zz = p.get("F_zz").detach().clone();
  return s;
}

MPMState DifferentiableMPM::substep(const MPMState& s, const TorchLaw& law) const {
  const auto& I = *impl_;
  const int64_t D = I.dim, N = I.volume.size(0);
  PHYSML_CHECK(law.elastic, "DifferentiableMPM::substep: the law has no elastic part");
  auto check = [&](const at::Tensor& t, std::vector<int64_t> shape, const char* name) {
    PHYSML_CHECK(t.defined() && t.sizes().vec() == shape, "DifferentiableMPM::substep: ", name, " has shape ",
                 t.defined() ? c10::str(t.sizes()) : std::string("undefined"), ", expected ", c10::IntArrayRef(shape));
  };
  check(s.x, {N, D}, "x");
  check(s.v, {N, D}, "v");
  check(s.C, {N, D, D}, "C");
  check(s.F, {N, D, D}, "F");
  if (D == 2) check(s.F_zz, {N}, "F_zz");
  PHYSML_CHECK(s.x.scalar_type() == torch::kDouble || s.x.scalar_type() == torch::kFloat,
               "DifferentiableMPM::substep: float32 or float64 state expected");
  auto embed = [&](const at::Tensor& F, const at::Tensor& Fzz) {
    if (D == 3) return F;
    const auto top = torch::cat({F, torch::zeros({N, 2, 1}, F.options())}, 2);
    const auto bottom = torch::cat({torch::zeros({N, 1, 2}, F.options()), Fzz.view({N, 1, 1}).to(F.scalar_type())}, 2);
    return torch::cat({top, bottom}, 1);
  };
  const auto tau3 = law.elastic(embed(s.F, s.F_zz));
  PHYSML_CHECK(tau3.sizes() == c10::IntArrayRef({N, 3, 3}), "DifferentiableMPM: the elastic law returned shape ",
               tau3.sizes(), ", expected [", N, ", 3, 3]");
  const auto tau = tau3.slice(1, 0, D).slice(2, 0, D).to(s.x.scalar_type()).contiguous();
  if (!torch::isfinite(tau.detach()).all().item<bool>()) {
    const auto bad = torch::nonzero(~torch::isfinite(tau.detach()).flatten(1).all(1))[0].item<int64_t>();
    throw NonFiniteError(physml::detail::concat("DifferentiableMPM: the Kirchhoff stress of particle ", bad,
                                        " is not finite; expected a finite stress"),
                         __FILE__, __LINE__);
  }
  auto out = TransferFunction::apply(s.x, s.v, s.C, s.F, tau, I.volume.to(s.x.options()), I.mass.to(s.x.options()),
                                     &I.params, D, &I.clamped);
  MPMState r;
  r.x = out[0];
  r.v = out[1];
  r.C = out[2];
  r.F = out[3];
  r.F_zz = s.F_zz;
  if (law.plastic) {
    const auto F3 = law.plastic(embed(out[3], s.F_zz));
    r.F = F3.slice(1, 0, D).slice(2, 0, D);
    if (D == 2) r.F_zz = F3.select(1, 2).select(1, 2);
  }
  auto J = det_small(r.F.detach());
  if (D == 2) J = J * r.F_zz.detach();
  if (!(J > 0).all().item<bool>()) {
    const auto bad_mask = ~(J > 0);
    const auto bad = torch::nonzero(bad_mask)[0].item<int64_t>();
    const double Jbad = J[bad].item<double>();
    if (!std::isfinite(Jbad))
      throw NonFiniteError(physml::detail::concat("DifferentiableMPM: the deformation gradient of particle ", bad,
                                          " is not finite after the substep (J = ", Jbad, "); expected a finite state"),
                           __FILE__, __LINE__);
    if (!I.allow_inverted)
      PHYSML_THROW("DifferentiableMPM: J = det F = ", Jbad, " <= 0 at particle ", bad,
                   " after the substep; expected J > 0 (time step too large for the velocity field or the stiffness)");
    I.inverted += bad_mask.sum().item<int64_t>();
  }
  return r;
}

MPMRollout DifferentiableMPM::rollout(const MPMState& initial, const TorchLaw& law, std::int64_t frames,
                                     const MPMRolloutOptions& options, const std::vector<at::Tensor>& parameters) const {
  PHYSML_CHECK(frames >= 1, "DifferentiableMPM::rollout: ", frames, " frames; expected >= 1");
  PHYSML_CHECK(options.substeps_per_frame() >= 1, "DifferentiableMPM::rollout: ", options.substeps_per_frame(),
               " substeps per frame; expected >= 1");
  PHYSML_CHECK(options.checkpoints() >= 0, "DifferentiableMPM::rollout: ", options.checkpoints(),
               " checkpoints; expected 0 (keep every substep) or >= 1 (binomial checkpointing)");
  MPMRollout result;
  std::vector<at::Tensor> need;
  for (const auto& p : parameters)
    if (p.defined() && p.requires_grad()) need.push_back(p);
  bool state_grad = false;
  for (const auto& t : state_list(initial)) state_grad = state_grad || (t.defined() && t.requires_grad());
  const bool graph = torch::GradMode::is_enabled() && (state_grad || !need.empty());
  if (options.checkpoints() == 0 || !graph) {
    std::tie(result.positions, result.last) = roll_frames(*this, initial, law, frames, options.substeps_per_frame());
    return result;
  }
  PHYSML_CHECK(initial.x.defined() && initial.v.defined() && initial.C.defined() && initial.F.defined(),
               "DifferentiableMPM::rollout: the initial state needs x, v, C and F");
  PHYSML_CHECK(impl_->dim == 3 || initial.F_zz.defined(), "DifferentiableMPM::rollout: a 2-D state needs F_zz");
  auto st = c10::make_intrusive<RolloutState>();
  st->mpm = this;
  st->law = law;
  st->params = need;
  for (const auto& p : need) st->versions.push_back(static_cast<std::int64_t>(p._version()));
  st->frames = frames;
  st->substeps = options.substeps_per_frame();
  st->checkpoints = options.checkpoints();
  st->stored_states_max = result.stored_states_max;
  st->clamped = &impl_->clamped;
  st->inverted = &impl_->inverted;
  std::vector<at::Tensor> flat;
  for (const auto& p : need) flat.push_back(p.reshape(-1).to(torch::kDouble));
  const auto Fzz = impl_->dim == 2 ? initial.F_zz : torch::zeros({0}, initial.x.options());
  auto out = RolloutFunction::apply(initial.x, initial.v, initial.C, initial.F, Fzz,
                                    flat.empty() ? torch::zeros({0}, torch::kDouble) : torch::cat(flat), st);
  result.positions = out[0];
  result.last = {out[1], out[2], out[3], out[4], impl_->dim == 2 ? out[5] : at::Tensor()};
  return result;
}

}  // namespace physml::simulators
