using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Numerics.Tensors;

namespace SharpPrune.Optim;

/// <summary>
/// torch.optim.SGD: d = g + wd·p; with momentum, buf = g on the first step, then buf = m·buf + (1 − dampening)·d;
/// nesterov uses d + m·buf, otherwise buf; p −= lr·d. Same operation order as PyTorch's single-tensor path.
/// </summary>
public sealed class SGD : Optimizer
{
    private static readonly string[] Names = { "momentum_buffer" };
    private readonly Tensor?[] _momentum;

    public double Momentum { get; private set; }
    public double Dampening { get; private set; }
    public double WeightDecay { get; private set; }
    public bool Nesterov { get; private set; }

    public SGD(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false)
        : base(parameters, lr)
    {
        Momentum = momentum;
        Dampening = dampening;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
        ValidateHyperparameters();
        _momentum = new Tensor?[Parameters.Count];
    }

    protected override void UpdateParameter(int index, Tensor param, Span<float> p, ReadOnlySpan<float> g)
    {
        ReadOnlySpan<float> d = g;
        int n = p.Length;
        if (Momentum != 0 && !Nesterov && _momentum[index] is { } mb && Fma.IsSupported)
        {
            // The usual step (momentum buffer exists) in one pass instead of four, same roundings as below.
            FusedMomentumStep(p, g, mb.Data, (float)WeightDecay, (float)Momentum, (float)(1 - Dampening), (float)-LearningRate);
            return;
        }
        if (WeightDecay != 0)
        {
            var s = ScratchA(n);
            TensorPrimitives.FusedMultiplyAdd(p, (float)WeightDecay, d, s); // g + wd·p, without touching the grad
            d = s;
        }
        if (Momentum != 0)
        {
            var buf = _momentum[index];
            if (buf is null)
                _momentum[index] = buf = new Tensor(d.ToArray(), param.ShapeCopy());
            else
            {
                Span<float> b = buf.Data;
                TensorPrimitives.Multiply(b, (float)Momentum, b);
                TensorPrimitives.FusedMultiplyAdd(d, (float)(1 - Dampening), b, b);
            }
            if (Nesterov)
            {
                var s = ScratchA(n); // may already hold d: same-start overlap is allowed
                TensorPrimitives.FusedMultiplyAdd(buf.Data, (float)Momentum, d, s);
                d = s;
            }
            else d = buf.Data;
        }
        TensorPrimitives.FusedMultiplyAdd(d, (float)-LearningRate, p, p);
    }

    /// <summary>
    /// Per element, exactly the unfused sequence: d = fma(p, wd, g) (or g), b = fma(d, 1 − dampening, b·m),
    /// p = fma(b, −lr, p). Split over threads for big tensors (elementwise, so the result does not depend on it).
    /// </summary>
    private static unsafe void FusedMomentumStep(Span<float> p, ReadOnlySpan<float> g, Span<float> b,
        float wd, float m, float keep, float negLr)
    {
        int n = p.Length;
        fixed (float* pp = p) fixed (float* pg = g) fixed (float* pb = b)
        {
            nint ip = (nint)pp, ig = (nint)pg, ib = (nint)pb;
            void Range(int start, int end)
            {
                float* P = (float*)ip, G = (float*)ig, B = (float*)ib;
                int i = start;
                // The ISA cap (SP_MAX_ISA, the tests' forced paths) picks the width; every width fuses the same
                // three multiply-adds, so the results do not depend on it. 256 bits also under AVX-512: a Vector512
                // loop was 20-60 % slower (1M floats 181 -> 295 us, 64K 13.3 -> 15.8 us; Zen 5, single thread).
                if (Kernels.KernelIsa.UseAvx2)
                {
                    var vwd = Vector256.Create(wd); var vm = Vector256.Create(m);
                    var vk = Vector256.Create(keep); var vlr = Vector256.Create(negLr);
                    for (; i + 8 <= end; i += 8)
                    {
                        var pv = Avx.LoadVector256(P + i);
                        var d = wd != 0 ? Fma.MultiplyAdd(pv, vwd, Avx.LoadVector256(G + i)) : Avx.LoadVector256(G + i);
                        var bv = Fma.MultiplyAdd(d, vk, Avx.Multiply(Avx.LoadVector256(B + i), vm));
                        Avx.Store(B + i, bv);
                        Avx.Store(P + i, Fma.MultiplyAdd(bv, vlr, pv));
                    }
                }
                else
                {
                    var vwd = Vector128.Create(wd); var vm = Vector128.Create(m);
                    var vk = Vector128.Create(keep); var vlr = Vector128.Create(negLr);
                    for (; i + 4 <= end; i += 4)
                    {
                        var pv = Vector128.Load(P + i);
                        var d = wd != 0 ? Vector128.FusedMultiplyAdd(pv, vwd, Vector128.Load(G + i)) : Vector128.Load(G + i);
                        var bv = Vector128.FusedMultiplyAdd(d, vk, Vector128.Load(B + i) * vm);
                        bv.Store(B + i);
                        Vector128.FusedMultiplyAdd(bv, vlr, pv).Store(P + i);
                    }
                }
                for (; i < end; i++)
                {
                    float d = wd != 0 ? MathF.FusedMultiplyAdd(P[i], wd, G[i]) : G[i];
                    float bv = MathF.FusedMultiplyAdd(d, keep, B[i] * m);
                    B[i] = bv;
                    P[i] = MathF.FusedMultiplyAdd(bv, negLr, P[i]);
                }
            }
            if (n >= 1 << 18 && Kernels.Parallelism.AvailableThreads > 1)
                Kernels.Parallelism.ForRanges(n / 8, Kernels.Parallelism.AvailableThreads,
                    (_, s0, s1) => Range(s0 * 8, s1 == n / 8 ? n : s1 * 8));
            else Range(0, n);
        }
    }

    protected override IReadOnlyList<string> StateNames => Names;
    protected override Tensor? GetState(int index, string name) => _momentum[index];
    protected override void SetState(int index, string name, Tensor? value) => _momentum[index] = value;

    protected override IEnumerable<KeyValuePair<string, string>> OwnHyperparameters() => new Dictionary<string, string>
    {
        ["momentum"] = StateText.Format(Momentum),
        ["dampening"] = StateText.Format(Dampening),
        ["weight_decay"] = StateText.Format(WeightDecay),
        ["nesterov"] = StateText.Format(Nesterov),
    };

    protected override bool SetOwnHyperparameter(string key, string value)
    {
        switch (key)
        {
            case "momentum": Momentum = ParseDouble(key, value); return true;
            case "dampening": Dampening = ParseDouble(key, value); return true;
            case "weight_decay": WeightDecay = ParseDouble(key, value); return true;
            case "nesterov": Nesterov = ParseBool(key, value); return true;
            default: return false;
        }
    }

    protected override void ValidateHyperparameters()
    {
        if (!(Momentum >= 0)) throw new ArgumentOutOfRangeException("momentum", Momentum, $"Invalid momentum value: {StateText.Format(Momentum)}");
        if (!(WeightDecay >= 0)) throw new ArgumentOutOfRangeException("weightDecay", WeightDecay, $"Invalid weight_decay value: {StateText.Format(WeightDecay)}");
        if (double.IsNaN(Dampening)) throw new ArgumentOutOfRangeException("dampening", Dampening, "Invalid dampening value: NaN");
        if (Nesterov && (Momentum <= 0 || Dampening != 0))
            throw new ArgumentException("Nesterov momentum requires a momentum and zero dampening");
    }
}
