using SharpPrune.Autograd;
using SharpPrune.IO;
using SharpPrune.IO.Torch;
using SharpPrune.Onnx;
using SharpPrune.Pruning;
using SharpPrune.Tests.Cli;
using SharpPrune.Tests.Core;
using SharpPrune.Tests.Onnx;
using SharpPrune.Vision.Models;
using SharpPrune.Vision.Training;

namespace SharpPrune.Tests.Interop;

/// <summary>The user's flow on the command line: a PyTorch checkpoint in, ONNX and .pt out.</summary>
public sealed class InteropCliTests
{
    [Fact]
    public void PyTorchCheckpointPruneFineTuneExportOnnxAndOnnxRuntimeAgrees()
    {
        string dir = CliRunner.TempDir();
        try
        {
            string src = TorchCheckpointTests.File("lenet5_dataparallel.pth.tar");
            string pruned = Path.Combine(dir, "pruned.safetensors"), tuned = Path.Combine(dir, "tuned");
            CliRunner.Ok("prune", "--load", src, "--model", "lenet5", "--method", "global-l1", "--amount", "0.6", "--save", pruned);
            CliRunner.Ok("train", "--load", pruned, "--data", "fashion-mnist", "--data-dir", CliRunner.SampleDir, "--epochs", "1",
                "--batch", "32", "--limit-train", "96", "--limit-test", "32", "--save", tuned);
            string last = Path.Combine(tuned, CheckpointKeys.LastFile), onnx = Path.Combine(dir, "m.onnx"), pt = Path.Combine(dir, "m.pt");
            CliRunner.Ok("export", "--load", last, "--format", "onnx", "--out", onnx);
            CliRunner.Ok("export", "--load", last, "--format", "pt", "--out", pt);

            var model = new LeNet5();
            PrunedStateDict.Load(model, Checkpoint.Load(last).Model);
            var bytes = File.ReadAllBytes(onnx);
            OnnxRuntimeRunner.AssertAgrees(model, bytes, new[] { 1, 28, 28 }, "fine-tuned lenet5");
            var fc1 = OnnxModelInfo.Initializer(bytes, "fc1.weight").ToArray();
            Assert.InRange(fc1.Count(v => v == 0) / (double)fc1.Length, 0.3, 1.0); // the masks are baked in

            // The .pt is the baked state dict: an unpruned LeNet-5 loads it and computes the same.
            var plain = new LeNet5();
            plain.LoadStateDict(TorchCheckpoint.Load(pt).StateDict);
            var x = Tensor.Randn(new Generator(2), 5, 1, 28, 28);
            TensorAssert.Close(OnnxRuntimeRunner.Ours(model, x), OnnxRuntimeRunner.Ours(plain, x), 1e-6, "baked .pt");

            // And the ONNX file loads back with --load for evaluation and a second export.
            CliRunner.Ok("eval", "--load", onnx, "--data", "fashion-mnist", "--data-dir", CliRunner.SampleDir, "--limit-test", "32");
            CliRunner.Ok("export", "--load", onnx, "--format", "onnx", "--fold-bn", "--out", Path.Combine(dir, "again.onnx"));
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>
    /// A model that exists only as a torch.onnx.export file goes through the whole CLI: prune, fine-tune, shrink and
    /// export again, each step's checkpoint rebuilding the imported graph from its own metadata (no --model).
    /// </summary>
    [Theory]
    [InlineData("lenet5.onnx", "fashion-mnist", 1)]
    [InlineData("resnet8.onnx", "fashion-mnist-3x32", 3)]
    public void OnnxImportPruneFineTuneShrinkExportAndOnnxRuntimeAgrees(string file, string data, int channels)
    {
        string dir = CliRunner.TempDir();
        try
        {
            string src = TorchCheckpointTests.File(file);
            string pruned = Path.Combine(dir, "pruned.safetensors"), tuned = Path.Combine(dir, "tuned"), shrunk = Path.Combine(dir, "shrunk.safetensors");
            string last = Path.Combine(tuned, CheckpointKeys.LastFile), onnx = Path.Combine(dir, "final.onnx");
            CliRunner.Ok("prune", "--load", src, "--method", "global-l1", "--amount", "0.5", "--save", pruned);
            var r = CliRunner.Ok("train", "--load", pruned, "--data", data, "--data-dir", CliRunner.SampleDir, "--epochs", "1",
                "--batch", "32", "--limit-train", "64", "--limit-test", "32", "--save", tuned);
            Assert.Contains("masks kept", r.Out);
            r = CliRunner.Ok("train", "--resume", tuned, "--epochs", "2"); // a run of an imported model resumes from its own checkpoint
            Assert.Contains("resuming", r.Out);
            var trained = GraphCheckpoint.Load(last);
            var masked = trained.NamedModules().Where(m => m.Module.HasBuffer("weight_mask")).ToList();
            Assert.NotEmpty(masked);
            foreach (var (name, m) in masked) // the pruned weights stayed zero through training
                Assert.All(m["weight"]!.ToArray().Zip(m["weight_mask"]!.ToArray()), p => Assert.True(p.Second != 0 || p.First == 0, name));

            CliRunner.Ok("shrink", "--load", last, "--ratio", "0.5", "--no-timing", "--save", shrunk);
            r = CliRunner.Ok("export", "--load", shrunk, "--format", "onnx", "--out", onnx);
            Assert.Contains("onnx", r.Out);
            CliRunner.Ok("eval", "--load", shrunk, "--data", data, "--data-dir", CliRunner.SampleDir, "--limit-test", "32");
            CliRunner.Ok("report", "--load", shrunk);

            var model = GraphCheckpoint.Load(shrunk);
            long before = OnnxImporter.Load(src).Parameters().Sum(p => (long)p.Numel), after = model.Parameters().Sum(p => (long)p.Numel);
            Assert.True(after < before * 0.8, $"{after} parameters after the shrink, {before} before");
            OnnxRuntimeRunner.AssertAgrees(model, File.ReadAllBytes(onnx), [channels, channels == 1 ? 28 : 32, channels == 1 ? 28 : 32], $"{file} pruned, fine-tuned, shrunk");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void NetworkSlimmingVggCheckpointLoadsPrunesAndExports()
    {
        string dir = CliRunner.TempDir();
        try
        {
            // The repository's file (feature.N names, single-Linear classifier, cfg) with --model only.
            string src = TorchCheckpointTests.File("vgg_slimming.pth.tar"), onnx = Path.Combine(dir, "v.onnx"), pruned = Path.Combine(dir, "p.safetensors");
            CliRunner.Ok("export", "--load", src, "--model", "vgg19", "--format", "onnx", "--out", onnx);
            var expected = TorchCheckpointTests.SlimmingExpected.Value;
            TensorAssert.Close(expected.Get("y"), OnnxRuntimeRunner.Run(File.ReadAllBytes(onnx), expected.Get("x")), 1e-4, "ONNX Runtime on the exported network-slimming vgg");
            // Our checkpoint of it (our names, cfg kept) loads with --load alone.
            CliRunner.Ok("prune", "--load", src, "--model", "vgg19", "--method", "global-l1", "--amount", "0.3", "--save", pruned);
            CliRunner.Ok("eval", "--load", pruned, "--data", "fashion-mnist-3x32", "--data-dir", CliRunner.SampleDir, "--limit-test", "32");
            Assert.Contains("classifier.0.weight_orig", Checkpoint.Load(pruned).Model.Select(kv => kv.Key));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void LegacyPyTorchCheckpointExportsAndOnnxRuntimeGivesPytorchsOutput()
    {
        string dir = CliRunner.TempDir();
        try
        {
            string onnx = Path.Combine(dir, "legacy.onnx");
            CliRunner.Ok("export", "--load", TorchCheckpointTests.File("lenet5_legacy.pth.tar"), "--model", "lenet5", "--format", "onnx", "--out", onnx);
            var expected = Fixtures.Load("interop", "legacy_expected.safetensors");
            TensorAssert.Close(expected.Get("lenet5.y"), OnnxRuntimeRunner.Run(File.ReadAllBytes(onnx), expected.Get("lenet5.x")), 1e-4, "legacy .pth.tar via the CLI");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void BrokenGraphCheckpointIsOneLineErrorAndModelOptionIsRefused()
    {
        string dir = CliRunner.TempDir();
        try
        {
            var model = OnnxImporter.Load(TorchCheckpointTests.File("lenet5.onnx"));
            string good = Path.Combine(dir, "good.safetensors"), bad = Path.Combine(dir, "bad.safetensors");
            GraphCheckpoint.Save(good, model);
            var spec = model.Describe();
            Checkpoint.Save(bad, model, null, null, new Dictionary<string, string> { [GraphSpec.MetadataKey] = spec.ToJson().Replace("\"version\":1", "\"version\":7") });
            var r = CliRunner.Run("report", "--load", bad);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("metadata 'graph' is not a valid graph description: version 7 is not 1", r.Err);
            Assert.Single(r.Err.Trim().Split('\n'));
            r = CliRunner.Run("report", "--load", good, "--model", "lenet5");
            Assert.Equal(2, r.ExitCode);
            Assert.Contains("imported from ONNX", r.Err);
            CliRunner.Ok("report", "--load", good);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ShrunkCheckpointExportsToOnnxAndOnnxRuntimeAgrees()
    {
        string dir = CliRunner.TempDir();
        try
        {
            // A ResNet-20 (option-A shortcuts, coupled residual channels) shrunk with global ranking, then exported
            // with only --load: the checkpoint's metadata says which model and which layer widths.
            string dense = Path.Combine(dir, "dense.pt"), shrunk = Path.Combine(dir, "shrunk.safetensors"), onnx = Path.Combine(dir, "shrunk.onnx");
            CliRunner.Ok("export", "--model", "resnet20", "--seed", "3", "--format", "pt", "--out", dense);
            CliRunner.Ok("shrink", "--load", dense, "--model", "resnet20", "--global", "--ratio", "0.5", "--no-timing", "--save", shrunk);
            var r = CliRunner.Ok("export", "--load", shrunk, "--format", "onnx", "--out", onnx);
            Assert.Contains("resnet20", r.Out);

            var ckpt = Checkpoint.Load(shrunk);
            var model = ModelZoo.Create("resnet20");
            ModelArchitecture.Apply(model, ckpt.Get(ModelArchitecture.MetadataKey)!, shrunk);
            PrunedStateDict.Load(model, ckpt.Model, strict: true);
            Assert.True(model.Parameters().Sum(p => (long)p.Numel) < ModelZoo.Create("resnet20").Parameters().Sum(p => (long)p.Numel) * 0.7);
            var bytes = File.ReadAllBytes(onnx);
            OnnxRuntimeRunner.AssertAgrees(model, bytes, new[] { 3, 32, 32 }, "shrunk resnet20 from the CLI");
            Assert.Equal(model.GetSubmodule("conv1")["weight"]!.Shape, OnnxModelInfo.Initializer(bytes, "conv1.weight").Shape);

            // The exported file loads back (--load x.onnx) and exports again with BN folded; ONNX Runtime still agrees.
            string folded = Path.Combine(dir, "folded.onnx");
            CliRunner.Ok("export", "--load", onnx, "--format", "onnx", "--fold-bn", "--out", folded);
            OnnxRuntimeRunner.AssertAgrees(model, File.ReadAllBytes(folded), new[] { 3, 32, 32 }, "shrunk resnet20, imported and folded");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void QuantizedCheckpointAndSpzFileExportToOnnxAndOnnxRuntimeAgrees()
    {
        string dir = CliRunner.TempDir();
        try
        {
            // Deep Compression's outputs leave as ONNX with the shared values baked into plain weights.
            string src = TorchCheckpointTests.File("lenet5_dataparallel.pth.tar");
            string pruned = Path.Combine(dir, "pruned.safetensors"), quantized = Path.Combine(dir, "q.safetensors"), spz = Path.Combine(dir, "m.spz");
            CliRunner.Ok("prune", "--load", src, "--model", "lenet5", "--method", "global-l1", "--amount", "0.8", "--save", pruned);
            CliRunner.Ok("quantize", "--load", pruned, "--bits", "conv=5,fc=4", "--save", quantized);
            CliRunner.Ok("compress", "--load", quantized, "--save", spz);
            string fromQ = Path.Combine(dir, "q.onnx"), fromSpz = Path.Combine(dir, "spz.onnx");
            CliRunner.Ok("export", "--load", quantized, "--format", "onnx", "--out", fromQ);
            CliRunner.Ok("export", "--load", spz, "--format", "onnx", "--out", fromSpz);

            var model = new LeNet5();
            PrunedStateDict.Load(model, Checkpoint.Load(quantized).Model);
            foreach (var file in new[] { fromQ, fromSpz })
            {
                var bytes = File.ReadAllBytes(file);
                OnnxRuntimeRunner.AssertAgrees(model, bytes, new[] { 1, 28, 28 }, Path.GetFileName(file));
                var fc1 = OnnxModelInfo.Initializer(bytes, "fc1.weight").ToArray();
                Assert.InRange(fc1.Distinct().Count(), 2, 17); // at most 2^4 shared values and the pruned zeros
            }
            Assert.Equal(File.ReadAllBytes(fromQ), File.ReadAllBytes(fromSpz)); // .spz decodes to the quantized weights bit for bit
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ErrorsAreOneLineWithTheRightExitCode()
    {
        string dir = CliRunner.TempDir();
        try
        {
            string bad = Path.Combine(dir, "bad.pt");
            File.WriteAllText(bad, "not a checkpoint");
            var r = CliRunner.Run("eval", "--load", bad, "--model", "lenet5", "--data", "fashion-mnist");
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("not a PyTorch checkpoint", r.Err);
            r = CliRunner.Run("export", "--model", "lenet5", "--format", "pt", "--fold-bn", "--out", Path.Combine(dir, "x.pt"));
            Assert.Equal(2, r.ExitCode);
            r = CliRunner.Run("export", "--format", "onnx", "--out", Path.Combine(dir, "x.onnx"));
            Assert.Equal(2, r.ExitCode);
            Assert.DoesNotContain(Directory.GetFiles(dir), f => !f.EndsWith("bad.pt")); // failed exports leave no file
        }
        finally { Directory.Delete(dir, true); }
    }
}
