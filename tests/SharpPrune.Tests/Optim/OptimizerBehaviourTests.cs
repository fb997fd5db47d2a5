using SharpPrune.Optim;

namespace SharpPrune.Tests.Optim;

public class OptimizerBehaviourTests
{
    private static Tensor[] Params(ulong seed, params int[][] shapes)
    {
        var g = new Generator(seed);
        return shapes.Select(s => Tensor.Randn(g, s).RequiresGrad_()).ToArray();
    }

    private static void RandomGrads(Tensor[] ps, Generator g)
    {
        foreach (var p in ps)
        {
            if (p.Grad is null) p.Grad = Tensor.Randn(g, p.ShapeCopy());
            else g.FillNormal(p.Grad.Data, 0f, 1f); // reuse the buffer, as backward's accumulation would
        }
    }

    public static TheoryData<string> Kinds() => new() { "sgd", "sgd_full", "adam", "adam_full", "adamw_amsgrad" };

    private static Optimizer Make(string kind, Tensor[] ps) => kind switch
    {
        "sgd" => new SGD(ps, 0.1),
        "sgd_full" => new SGD(ps, 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: true),
        "adam" => new Adam(ps, 1e-3),
        "adam_full" => new Adam(ps, 1e-3, weightDecay: 0.01, amsgrad: true),
        _ => new AdamW(ps, 1e-3, amsgrad: true),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void StepsAfterTheFirstAllocateNothing(string kind)
    {
        var ps = Params(1, new[] { 64, 32 }, new[] { 32 }, new[] { 10, 64 });
        var opt = Make(kind, ps);
        var g = new Generator(2);
        RandomGrads(ps, g);
        opt.Step(); // creates the state buffers
        opt.Step(); // and lets the JIT settle
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) opt.Step();
        opt.ZeroGrad();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void StateExportThenLoadContinuesIdentically(string kind)
    {
        var a = Params(3, new[] { 5, 4 }, new[] { 4 });
        var b = a.Select(p => p.Clone().RequiresGrad_()).ToArray();
        var optA = Make(kind, a);
        var ga = new Generator(4);
        for (int i = 0; i < 3; i++) { RandomGrads(a, ga); optA.Step(); }

        for (int i = 0; i < a.Length; i++) b[i].CopyFrom(a[i]);
        var optB = Make(kind, b);
        optB.LearningRate = 123; // overwritten by the loaded hyperparameters
        optB.LoadHyperparameters(optA.Hyperparameters());
        optB.LoadStateTensors(optA.StateTensors().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.Clone())));
        var gb = new Generator(0);
        gb.SetState(ga.GetState());
        for (int i = 0; i < 3; i++) { RandomGrads(a, ga); optA.Step(); RandomGrads(b, gb); optB.Step(); }

        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i].ToArray(), b[i].ToArray());
        Assert.Equal(optA.StepCount, optB.StepCount);
        Assert.Equal(optA.Hyperparameters(), optB.Hyperparameters());
    }

    [Theory]
    [InlineData(5e-4, 0.0)]
    [InlineData(0.0, 0.1)]
    public void SgdMomentumStepIsTheUnfusedSequenceBitForBit(double wd, double dampening)
    {
        // Every ISA path (256- and 128-bit loops and the scalar tail), big enough to be split over threads, with a
        // tail that is not a multiple of 8.
        for (var isa = SharpPrune.Kernels.CpuIsa.Portable; isa <= SharpPrune.Kernels.KernelIsa.Hardware; isa++)
        {
            SharpPrune.Kernels.Gemm.MaxIsa = isa;
            try { SgdMomentumStepOnce(wd, dampening); }
            finally { SharpPrune.Kernels.Gemm.MaxIsa = null; }
        }
    }

    private static void SgdMomentumStepOnce(double wd, double dampening)
    {
        int n = (1 << 19) + 5;
        var g = new Generator(3);
        var p = Tensor.Randn(g, n).RequiresGrad_();
        var p0 = p.ToArray();
        var opt = new SGD(new[] { p }, 0.05, momentum: 0.9, dampening: dampening, weightDecay: wd);
        var g1 = Tensor.Randn(g, n); var g2 = Tensor.Randn(g, n);
        p.Grad = g1; opt.Step();   // creates the buffer
        p.Grad = g2; opt.Step();   // the fused path
        float fwd = (float)wd, m = 0.9f, keep = (float)(1 - dampening), lr = -0.05f;
        var pr = p0; var b = new float[n]; var a1 = g1.ToArray(); var a2 = g2.ToArray();
        for (int i = 0; i < n; i++)
        {
            float d = wd != 0 ? MathF.FusedMultiplyAdd(pr[i], fwd, a1[i]) : a1[i];
            b[i] = d;                                                  // first step: buf = d
            pr[i] = MathF.FusedMultiplyAdd(b[i], lr, pr[i]);
            d = wd != 0 ? MathF.FusedMultiplyAdd(pr[i], fwd, a2[i]) : a2[i];
            b[i] = MathF.FusedMultiplyAdd(d, keep, b[i] * m);
            pr[i] = MathF.FusedMultiplyAdd(b[i], lr, pr[i]);
        }
        Assert.Equal(pr, p.ToArray());
    }

    [Fact]
    public void LoadedStateIsCopiedNotAliased()
    {
        var ps = Params(1, new[] { 3 });
        var opt = new SGD(ps, 0.1, momentum: 0.9);
        var buf = Tensor.Ones(3);
        opt.LoadStateTensors(new[] { new KeyValuePair<string, Tensor>("0.momentum_buffer", buf) });
        buf.Fill_(7);
        Assert.Equal(new[] { 1f, 1f, 1f }, opt.StateTensors().Single().Value.ToArray());
    }

    [Fact]
    public void ParametersWithoutGradAreSkippedAndGetNoState()
    {
        var ps = Params(5, new[] { 3 }, new[] { 2 });
        var before = ps[1].ToArray();
        var opt = new Adam(ps, 0.1);
        ps[0].Grad = Tensor.Ones(3);
        opt.Step();
        Assert.Equal(before, ps[1].ToArray());
        Assert.Equal(new[] { "0.step", "0.exp_avg", "0.exp_avg_sq" }, opt.StateTensors().Select(kv => kv.Key));
    }

    [Fact]
    public void ZeroGradZerosInPlaceAndKeepsTheBuffers()
    {
        var ps = Params(6, new[] { 2, 2 }, new[] { 3 });
        ps[0].Grad = Tensor.Ones(2, 2);
        var grad = ps[0].Grad;
        new SGD(ps, 0.1).ZeroGrad();
        Assert.Same(grad, ps[0].Grad);
        Assert.All(grad!.ToArray(), v => Assert.Equal(0f, v));
        Assert.Null(ps[1].Grad);
    }

    [Fact]
    public void ConstructorValidationUsesPyTorchMessages()
    {
        var ps = Params(1, new[] { 2 });
        Assert.Contains("Invalid learning rate: -0.1", Assert.Throws<ArgumentOutOfRangeException>(() => new SGD(ps, -0.1)).Message);
        Assert.Contains("Invalid momentum value: -1", Assert.Throws<ArgumentOutOfRangeException>(() => new SGD(ps, 0.1, momentum: -1)).Message);
        Assert.Contains("Invalid weight_decay value: -0.5", Assert.Throws<ArgumentOutOfRangeException>(() => new SGD(ps, 0.1, weightDecay: -0.5)).Message);
        Assert.Equal("Nesterov momentum requires a momentum and zero dampening", Assert.Throws<ArgumentException>(() => new SGD(ps, 0.1, nesterov: true)).Message);
        Assert.Equal("Nesterov momentum requires a momentum and zero dampening", Assert.Throws<ArgumentException>(() => new SGD(ps, 0.1, momentum: 0.9, dampening: 0.1, nesterov: true)).Message);
        Assert.Contains("Invalid beta parameter at index 0: 1", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(ps, beta1: 1.0)).Message);
        Assert.Contains("Invalid beta parameter at index 1: -0.1", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(ps, beta2: -0.1)).Message);
        Assert.Contains("Invalid epsilon value: -1E-08", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(ps, eps: -1e-8)).Message);
        Assert.Contains("Invalid learning rate: NaN", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(ps, lr: double.NaN)).Message);
        Assert.Contains("empty parameter list", Assert.Throws<ArgumentException>(() => new SGD(Array.Empty<Tensor>(), 0.1)).Message);
        Assert.Contains("parameter 1 appears more than once", Assert.Throws<ArgumentException>(() => new SGD(new[] { ps[0], ps[0] }, 0.1)).Message);
    }

    [Fact]
    public void DefaultsArePyTorchs()
    {
        var ps = Params(1, new[] { 2 });
        var adam = new Adam(ps).Hyperparameters();
        Assert.Equal(("0.001", "0.9", "0.999", "1E-08", "0", "false"), (adam["lr"], adam["beta1"], adam["beta2"], adam["eps"], adam["weight_decay"], adam["amsgrad"]));
        Assert.Equal("0.01", new AdamW(ps).Hyperparameters()["weight_decay"]);
        var sgd = new SGD(ps, 0.1).Hyperparameters();
        Assert.Equal(("0", "0", "0", "false"), (sgd["momentum"], sgd["dampening"], sgd["weight_decay"], sgd["nesterov"]));
    }

    [Fact]
    public void GradientOfTheWrongShapeIsReported()
    {
        var ps = Params(1, new[] { 2, 3 });
        ps[0].Grad = Tensor.Zeros(3, 2);
        var e = Assert.Throws<InvalidOperationException>(() => new SGD(ps, 0.1).Step());
        Assert.Equal("parameter 0: gradient shape (3, 2) does not match parameter shape (2, 3)", e.Message);
    }

    [Fact]
    public void BadStateIsRejectedWithEveryProblemNamedAndNothingChanges()
    {
        var ps = Params(1, new[] { 2, 3 }, new[] { 4 });
        var opt = new Adam(ps, 0.1, amsgrad: true);
        ps[0].Grad = Tensor.Ones(2, 3); ps[1].Grad = Tensor.Ones(4);
        opt.Step();
        var saved = Describe(opt);

        var bad = new KeyValuePair<string, Tensor>[]
        {
            new("0.step", Tensor.Scalar(2.5f)),
            new("0.exp_avg", Tensor.Zeros(3, 2)),
            new("0.exp_avg_sq", Tensor.Zeros(2, 3)),
            new("1.momentum_buffer", Tensor.Zeros(4)),
            new("7.exp_avg", Tensor.Zeros(4)),
            new("exp_avg", Tensor.Zeros(4)),
        };
        var e = Assert.Throws<ArgumentException>(() => opt.LoadStateTensors(bad));
        foreach (var part in new[]
        {
            "'0.exp_avg': shape (3, 2) but parameter 0 needs shape (2, 3)",
            "'1.momentum_buffer': unknown state 'momentum_buffer' for Adam",
            "'7.exp_avg': parameter index 7 out of range, this optimizer has 2 parameters",
            "'exp_avg' is not of the form '<parameter index>.<state name>'",
            "parameter 0: step must be a whole number",
            "parameter 0: amsgrad is on but the state has no 'max_exp_avg_sq'",
        }) Assert.Contains(part, e.Message);
        Assert.Equal(saved, Describe(opt));
    }

    private static List<string> Describe(Optimizer opt) =>
        opt.StateTensors().Select(kv => kv.Key + "=" + string.Join(",", kv.Value.ToArray())).ToList();

    [Fact]
    public void InvalidHyperparametersAreRolledBack()
    {
        var opt = new SGD(Params(1, new[] { 2 }), 0.1, momentum: 0.9);
        var before = opt.Hyperparameters();
        Assert.Throws<ArgumentException>(() => opt.LoadHyperparameters(new Dictionary<string, string> { ["lr"] = "0.5", ["nesterov"] = "true", ["dampening"] = "0.2" }));
        Assert.Equal(before, opt.Hyperparameters());
        Assert.Throws<FormatException>(() => opt.LoadHyperparameters(new Dictionary<string, string> { ["momentum"] = "lots" }));
        Assert.Contains("unknown SGD hyperparameter 'betas'",
            Assert.Throws<ArgumentException>(() => opt.LoadHyperparameters(new Dictionary<string, string> { ["betas"] = "1" })).Message);
        Assert.Equal(before, opt.Hyperparameters());
    }
}
