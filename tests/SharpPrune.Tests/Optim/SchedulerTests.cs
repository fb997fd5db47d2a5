using System.Text.Json;
using SharpPrune.IO;
using SharpPrune.Optim;

namespace SharpPrune.Tests.Optim;

/// <summary>Learning-rate sequences against torch 1.13 (schedulers.safetensors metadata, exact float reprs).</summary>
public class SchedulerTests
{
    private static readonly Lazy<SafeTensorsFile> File = new(() => Fixtures.Load("optim", "schedulers.safetensors"));

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var k in File.Value.Metadata.Keys.Where(k => k.StartsWith("case.")).Order()) data.Add(k["case.".Length..]);
        return data;
    }

    private sealed record Case(SGD Optimizer, LRScheduler Scheduler, double[] TorchLrs);

    private static Case Build(string name)
    {
        using var doc = JsonDocument.Parse(File.Value.Metadata["case." + name]);
        var c = doc.RootElement;
        var opt = new SGD(new[] { Tensor.Zeros(1).RequiresGrad_() }, c.GetProperty("lr").GetDouble());
        LRScheduler s = c.GetProperty("type").GetString() switch
        {
            "StepLR" => new StepLR(opt, c.GetProperty("step_size").GetInt32(), c.GetProperty("gamma").GetDouble()),
            "MultiStepLR" => new MultiStepLR(opt, c.GetProperty("milestones").EnumerateArray().Select(m => m.GetInt32()).ToArray(), c.GetProperty("gamma").GetDouble()),
            "CosineAnnealingLR" => new CosineAnnealingLR(opt, c.GetProperty("t_max").GetInt32(), c.TryGetProperty("eta_min", out var e) ? e.GetDouble() : 0),
            var t => throw new InvalidOperationException($"unknown scheduler {t} in fixture"),
        };
        return new Case(opt, s, c.GetProperty("lrs").EnumerateArray().Select(v => v.GetDouble()).ToArray());
    }

    private static void AssertLr(double torch, double ours, string what) =>
        Assert.True(Math.Abs(ours - torch) <= 1e-12 * Math.Abs(torch), $"{what}: {ours:R} vs torch {torch:R}");

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void SequenceMatchesTorch(string name)
    {
        var (opt, sched, lrs) = Build(name);
        AssertLr(lrs[0], sched.GetLastLr()[0], $"{name} after construction");
        for (int step = 1; step < lrs.Length; step++)
        {
            opt.Step();
            sched.Step();
            AssertLr(lrs[step], sched.GetLastLr()[0], $"{name} step {step}");
            Assert.Equal(sched.GetLastLr()[0], opt.LearningRate);
            Assert.Equal(step, sched.LastEpoch);
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ResumeFromStateContinuesTheTorchSequence(string name)
    {
        var first = Build(name);
        const int cut = 8;
        for (int i = 0; i < cut; i++) { first.Optimizer.Step(); first.Scheduler.Step(); }
        var schedState = first.Scheduler.StateDict();
        var optState = first.Optimizer.Hyperparameters();

        var second = Build(name); // fresh: LastEpoch 0, lr back at its initial value
        second.Optimizer.LoadHyperparameters(optState);
        second.Scheduler.LoadStateDict(schedState);
        Assert.Equal(cut, second.Scheduler.LastEpoch);
        for (int step = cut + 1; step < second.TorchLrs.Length; step++)
        {
            second.Scheduler.Step();
            AssertLr(second.TorchLrs[step], second.Optimizer.LearningRate, $"{name} resumed step {step}");
        }
    }

    [Fact]
    public void ClosedFormsAgreeWithTheRecursionWithinOnePeriod()
    {
        var opt = new SGD(new[] { Tensor.Zeros(1) }, 0.1);
        var step = new StepLR(opt, 3, 0.5);
        for (int e = 1; e <= 10; e++) { step.Step(); Assert.Equal(step.ClosedFormLr(e), opt.LearningRate, 12); }

        opt = new SGD(new[] { Tensor.Zeros(1) }, 0.1);
        var multi = new MultiStepLR(opt, new[] { 4, 2, 4 }, 0.1);
        Assert.Equal(new[] { 2, 4, 4 }, multi.Milestones);
        for (int e = 1; e <= 6; e++) { multi.Step(); Assert.Equal(multi.ClosedFormLr(e), opt.LearningRate, 12); }

        opt = new SGD(new[] { Tensor.Zeros(1) }, 0.1);
        var cos = new CosineAnnealingLR(opt, 10, 0.001);
        for (int e = 1; e <= 10; e++) { cos.Step(); Assert.Equal(cos.ClosedFormLr(e), opt.LearningRate, 12); }
    }

    [Fact]
    public void FirstSchedulerSetsInitialLrAndBaseLrComesFromIt()
    {
        var opt = new SGD(new[] { Tensor.Zeros(1) }, 0.2);
        var s = new StepLR(opt, 1, 0.5);
        s.Step();
        Assert.Equal(0.2, opt.InitialLearningRate);
        var s2 = new CosineAnnealingLR(opt, 4); // like PyTorch, a second scheduler starts from initial_lr
        Assert.Equal(0.2, s2.BaseLr);
        Assert.Equal(0.1, opt.LearningRate);
    }

    [Fact]
    public void BadArgumentsAndStateAreReported()
    {
        var opt = new SGD(new[] { Tensor.Zeros(1) }, 0.1);
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepLR(opt, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnnealingLR(opt, 0));
        var s = new StepLR(opt, 2);
        var cosState = new CosineAnnealingLR(new SGD(new[] { Tensor.Zeros(1) }, 0.1), 5).StateDict();
        Assert.Contains("scheduler state is for CosineAnnealingLR, this scheduler is StepLR",
            Assert.Throws<ArgumentException>(() => s.LoadStateDict(cosState)).Message);
        var state = s.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        state["last_epoch"] = "-4";
        Assert.Throws<FormatException>(() => s.LoadStateDict(state));
        state["last_epoch"] = "3";
        state["extra"] = "1";
        Assert.Contains("unknown StepLR state 'extra'", Assert.Throws<ArgumentException>(() => s.LoadStateDict(state)).Message);
        Assert.Equal(0, s.LastEpoch);
    }
}
