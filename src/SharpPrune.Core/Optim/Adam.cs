using System.Numerics.Tensors;

namespace SharpPrune.Optim;

/// <summary>
/// Shared body of torch.optim.Adam and AdamW (single-tensor path, same operation order). The two differ only in
/// weight decay: Adam adds wd·p to the gradient (L2), AdamW shrinks p by (1 − lr·wd) first (decoupled).
/// Each parameter keeps its own step count, so a parameter that had no gradient for a while is bias-corrected
/// by the number of updates it actually received — exactly as PyTorch does.
/// </summary>
public abstract class AdamBase : Optimizer
{
    private static readonly string[] Names = { "step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq" };
    private readonly int[] _steps;
    private readonly Tensor?[] _expAvg, _expAvgSq, _maxExpAvgSq;
    private readonly bool _decoupled;

    public double Beta1 { get; private set; }
    public double Beta2 { get; private set; }
    public double Eps { get; private set; }
    public double WeightDecay { get; private set; }
    public bool Amsgrad { get; private set; }

    private protected AdamBase(IEnumerable<Tensor> parameters, double lr, double beta1, double beta2, double eps, double weightDecay, bool amsgrad, bool decoupled)
        : base(parameters, lr)
    {
        Beta1 = beta1; Beta2 = beta2; Eps = eps; WeightDecay = weightDecay; Amsgrad = amsgrad;
        _decoupled = decoupled;
        ValidateHyperparameters();
        int n = Parameters.Count;
        _steps = new int[n];
        _expAvg = new Tensor?[n]; _expAvgSq = new Tensor?[n]; _maxExpAvgSq = new Tensor?[n];
    }

    protected override void UpdateParameter(int i, Tensor param, Span<float> p, ReadOnlySpan<float> g)
    {
        if (_expAvg[i] is null)
        {
            _steps[i] = 0;
            _expAvg[i] = Tensor.ZerosLike(param);
            _expAvgSq[i] = Tensor.ZerosLike(param);
        }
        if (Amsgrad) _maxExpAvgSq[i] ??= Tensor.ZerosLike(param);

        int n = p.Length;
        Span<float> m = _expAvg[i]!.Data, v = _expAvgSq[i]!.Data;
        Span<float> a = ScratchA(n), b = ScratchB(n);
        int step = ++_steps[i];
        double lr = LearningRate;

        if (WeightDecay != 0)
        {
            if (_decoupled) TensorPrimitives.Multiply(p, (float)(1 - lr * WeightDecay), p);
            else { TensorPrimitives.FusedMultiplyAdd(p, (float)WeightDecay, g, a); g = a; }
        }

        // m = β1·m + (1 − β1)·g;  v = β2·v + ((1 − β2)·g)·g  (addcmul's order)
        TensorPrimitives.Multiply(m, (float)Beta1, m);
        TensorPrimitives.FusedMultiplyAdd(g, (float)(1 - Beta1), m, m);
        TensorPrimitives.Multiply(v, (float)Beta2, v);
        TensorPrimitives.Multiply(g, (float)(1 - Beta2), b);
        TensorPrimitives.Multiply(b, g, b);
        TensorPrimitives.Add(v, b, v);

        double bc1 = 1 - Math.Pow(Beta1, step);
        double bc2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, step));
        double stepSize = lr / bc1;

        ReadOnlySpan<float> second = v;
        if (Amsgrad)
        {
            Span<float> mx = _maxExpAvgSq[i]!.Data;
            TensorPrimitives.Max(mx, v, mx);
            second = mx;
        }
        // denom = sqrt(v̂) / sqrt(bc2) + eps;  p += (−step_size·m) / denom  (addcdiv's order)
        TensorPrimitives.Sqrt(second, a);
        TensorPrimitives.Divide(a, (float)bc2Sqrt, a);
        TensorPrimitives.Add(a, (float)Eps, a);
        TensorPrimitives.Multiply(m, (float)-stepSize, b);
        TensorPrimitives.Divide(b, a, b);
        TensorPrimitives.Add(p, b, p);
    }

    protected override IReadOnlyList<string> StateNames => Names;
    protected override bool IsScalarState(string name) => name == "step";

    protected override Tensor? GetState(int index, string name) => name switch
    {
        // PyTorch keeps the step as a float tensor; exact up to 2^24 steps.
        "step" => _expAvg[index] is null ? null : Tensor.Scalar(_steps[index]),
        "exp_avg" => _expAvg[index],
        "exp_avg_sq" => _expAvgSq[index],
        _ => _maxExpAvgSq[index],
    };

    protected override void SetState(int index, string name, Tensor? value)
    {
        switch (name)
        {
            case "step": _steps[index] = value is null ? 0 : (int)value.Data[0]; break;
            case "exp_avg": _expAvg[index] = value; break;
            case "exp_avg_sq": _expAvgSq[index] = value; break;
            default: _maxExpAvgSq[index] = value; break;
        }
    }

    protected override void ValidateState(int index, IReadOnlyDictionary<string, Tensor> state, List<string> errors)
    {
        foreach (var need in new[] { "step", "exp_avg", "exp_avg_sq" })
            if (!state.ContainsKey(need))
                errors.Add($"parameter {index}: state has {string.Join(", ", state.Keys)} but no '{need}'");
        if (Amsgrad && !state.ContainsKey("max_exp_avg_sq"))
            errors.Add($"parameter {index}: amsgrad is on but the state has no 'max_exp_avg_sq'");
        if (state.TryGetValue("step", out var s))
        {
            float x = s.Data[0];
            if (!(x >= 0 && x <= 1 << 24 && x == MathF.Floor(x)))
                errors.Add($"parameter {index}: step must be a whole number in 0..{1 << 24}, got {x}");
        }
    }

    protected override IEnumerable<KeyValuePair<string, string>> OwnHyperparameters() => new Dictionary<string, string>
    {
        ["beta1"] = StateText.Format(Beta1),
        ["beta2"] = StateText.Format(Beta2),
        ["eps"] = StateText.Format(Eps),
        ["weight_decay"] = StateText.Format(WeightDecay),
        ["amsgrad"] = StateText.Format(Amsgrad),
    };

    protected override bool SetOwnHyperparameter(string key, string value)
    {
        switch (key)
        {
            case "beta1": Beta1 = ParseDouble(key, value); return true;
            case "beta2": Beta2 = ParseDouble(key, value); return true;
            case "eps": Eps = ParseDouble(key, value); return true;
            case "weight_decay": WeightDecay = ParseDouble(key, value); return true;
            case "amsgrad": Amsgrad = ParseBool(key, value); return true;
            default: return false;
        }
    }

    protected override void ValidateHyperparameters()
    {
        if (!(Eps >= 0)) throw new ArgumentOutOfRangeException("eps", Eps, $"Invalid epsilon value: {StateText.Format(Eps)}");
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentOutOfRangeException("beta1", Beta1, $"Invalid beta parameter at index 0: {StateText.Format(Beta1)}");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentOutOfRangeException("beta2", Beta2, $"Invalid beta parameter at index 1: {StateText.Format(Beta2)}");
        if (!(WeightDecay >= 0)) throw new ArgumentOutOfRangeException("weightDecay", WeightDecay, $"Invalid weight_decay value: {StateText.Format(WeightDecay)}");
    }
}

/// <summary>torch.optim.Adam (L2 weight decay added to the gradient).</summary>
public sealed class Adam : AdamBase
{
    public Adam(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0, bool amsgrad = false)
        : base(parameters, lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled: false) { }
}

/// <summary>torch.optim.AdamW (decoupled weight decay: p *= 1 − lr·wd before the Adam update).</summary>
public sealed class AdamW : AdamBase
{
    public AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2, bool amsgrad = false)
        : base(parameters, lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled: true) { }
}
