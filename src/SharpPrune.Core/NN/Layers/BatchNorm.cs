using System.Globalization;

namespace SharpPrune.NN;

/// <summary>
/// Shared batch-norm layer logic (PyTorch's _BatchNorm): parameters weight, bias; buffers running_mean,
/// running_var, num_batches_tracked, registered in that order so state-dict keys match PyTorch's.
/// </summary>
public abstract class BatchNormBase : Module
{
    public int NumFeatures { get; }
    public double Eps { get; }
    /// <summary>Running-average factor; null means a cumulative average (factor 1/num_batches_tracked).</summary>
    public double? Momentum { get; }
    public bool Affine { get; }
    public bool TrackRunningStats { get; }

    protected BatchNormBase(int numFeatures, double eps, double? momentum, bool affine, bool trackRunningStats)
    {
        if (numFeatures < 1) throw new ArgumentOutOfRangeException(nameof(numFeatures), $"{TypeName}: num_features must be >= 1, got {numFeatures}");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), $"{TypeName}: eps must be >= 0, got {eps}");
        if (momentum is double m && (m < 0 || m > 1)) throw new ArgumentOutOfRangeException(nameof(momentum), $"{TypeName}: momentum must be in [0, 1], got {m}");
        NumFeatures = numFeatures; Eps = eps; Momentum = momentum; Affine = affine; TrackRunningStats = trackRunningStats;
        if (affine)
        {
            AddParameter("weight", Tensor.Ones(numFeatures));
            AddParameter("bias", Tensor.Zeros(numFeatures));
        }
        else
        {
            RegisterParameter("weight", null);
            RegisterParameter("bias", null);
        }
        if (trackRunningStats)
        {
            RegisterBuffer("running_mean", Tensor.Zeros(numFeatures));
            RegisterBuffer("running_var", Tensor.Ones(numFeatures));
            // PyTorch keeps this counter as an int64 scalar; our tensors are float32, so it is a float of shape ()
            // (exact up to 2^24 batches). Checkpoint converters cast it.
            RegisterBuffer("num_batches_tracked", Tensor.Scalar(0f));
        }
        else
        {
            RegisterBuffer("running_mean", null);
            RegisterBuffer("running_var", null);
            RegisterBuffer("num_batches_tracked", null);
        }
    }

    public Tensor? Weight => GetOptional("weight");
    public Tensor? Bias => GetOptional("bias");
    public Tensor? RunningMean => GetOptional("running_mean");
    public Tensor? RunningVar => GetOptional("running_var");
    public Tensor? NumBatchesTracked => GetOptional("num_batches_tracked");

    /// <summary>Checks the input's rank (1-D: (N, C) or (N, C, L); 2-D: (N, C, H, W)).</summary>
    protected abstract void CheckInput(Tensor input);

    /// <summary>Resets running statistics to mean 0, variance 1 and the batch counter to 0.</summary>
    public void ResetRunningStats()
    {
        RunningMean?.Zero_();
        RunningVar?.Fill_(1f);
        NumBatchesTracked?.Zero_();
    }

    protected override Tensor ForwardCore(Tensor input) => Normalize(input, relu: false, residual: null);

    /// <summary>
    /// relu(this(input) + residual) as one op (<see cref="F.BatchNormRelu"/>), with this layer's statistics and
    /// counters updated exactly as <see cref="Module.Forward"/> would. Runs no hooks: for containers that fuse a
    /// BatchNorm → ReLU pair only when neither module has any (<see cref="Container"/>).
    /// </summary>
    internal Tensor ForwardRelu(Tensor input, Tensor? residual) => Normalize(input, relu: true, residual);

    private Tensor Normalize(Tensor input, bool relu, Tensor? residual)
    {
        CheckInput(input);
        double factor = Momentum ?? 0.0;
        if (Training && TrackRunningStats && NumBatchesTracked is Tensor nbt)
        {
            nbt.Data[0] += 1f;
            nbt.MarkChanged();
            if (Momentum == null) factor = 1.0 / nbt.Data[0];
        }
        // Batch statistics in training mode, or in eval mode when no running statistics exist.
        bool useBatchStats = Training || (RunningMean == null && RunningVar == null);
        var (rm, rv) = !Training || TrackRunningStats ? (RunningMean, RunningVar) : (null, null);
        return relu ? F.BatchNormRelu(input, residual, rm, rv, Weight, Bias, useBatchStats, factor, Eps)
            : F.BatchNorm(input, rm, rv, Weight, Bias, useBatchStats, factor, Eps);
    }

    public override string ExtraRepr()
    {
        string mom = Momentum is double m ? PyFloat(m) : "None";
        return $"{NumFeatures}, eps={PyFloat(Eps)}, momentum={mom}, affine={Py(Affine)}, track_running_stats={Py(TrackRunningStats)}";
    }

    private static string Py(bool b) => b ? "True" : "False";

    /// <summary>Python's repr of a float: shortest round-trip digits, "1e-05" style exponents, ".0" on integers.</summary>
    internal static string PyFloat(double v)
    {
        var s = v.ToString("R", CultureInfo.InvariantCulture);
        int e = s.IndexOf('E');
        if (e >= 0)
        {
            var mant = s[..e];
            int exp = int.Parse(s[(e + 1)..], CultureInfo.InvariantCulture);
            return $"{mant}e{(exp < 0 ? "-" : "+")}{Math.Abs(exp):00}";
        }
        return s.Contains('.') || s.Contains("Infinity") || s == "NaN" ? s : s + ".0";
    }
}

/// <summary>Batch norm over (N, C) or (N, C, L) inputs, per channel C.</summary>
public sealed class BatchNorm1d : BatchNormBase
{
    public BatchNorm1d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true)
        : base(numFeatures, eps, momentum, affine, trackRunningStats) { }

    protected override void CheckInput(Tensor input)
    {
        if (input.Dim != 2 && input.Dim != 3)
            throw new ArgumentException($"BatchNorm1d: expected 2D or 3D input (got {input.Dim}D input of shape {Shapes.Format(input.Shape)})");
    }
}

/// <summary>Batch norm over (N, C, H, W) inputs, per channel C.</summary>
public sealed class BatchNorm2d : BatchNormBase
{
    public BatchNorm2d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true)
        : base(numFeatures, eps, momentum, affine, trackRunningStats) { }

    protected override void CheckInput(Tensor input)
    {
        if (input.Dim != 4)
            throw new ArgumentException($"BatchNorm2d: expected 4D input (got {input.Dim}D input of shape {Shapes.Format(input.Shape)})");
    }
}
