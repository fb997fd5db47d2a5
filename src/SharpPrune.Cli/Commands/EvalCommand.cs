using System.CommandLine;
using SharpPrune.Pruning;
using System.Globalization;
using System.Text.Json;
using SharpPrune.Vision.Data;
using SharpPrune.Vision.Training;

namespace SharpPrune.Cli.Commands;

/// <summary><c>sharpprune eval</c>: test loss and accuracy of a checkpoint (dense or pruned).</summary>
internal static class EvalCommand
{
    public static Command Create(CliContext ctx)
    {
        var checkpoint = new CheckpointOptions("Checkpoint to evaluate");
        var data = CliOptions.String("--data", "Dataset [default: the one the checkpoint was trained on]");
        var dataDir = CliOptions.String("--data-dir", "Folder with the dataset files [default: the one the checkpoint was trained from]");
        var batch = CliOptions.Int("--batch", "Mini-batch size", 256, 1, 1 << 20);
        var json = CliOptions.Flag("--json", "Print the result as JSON");
        var sparse = CliOptions.Flag("--sparse", "Run pruned layers with the sparse kernels (each layer sparse or dense by its density; see SparseCrossover)");
        var limitTest = CliOptions.OptionalInt("--limit-test", "Use only the first N test images", 1, hidden: true);
        var cmd = new Command("eval", "Evaluate a checkpoint on a dataset's test split") { checkpoint.Load, data, dataDir, batch, json, checkpoint.Model, checkpoint.NumClasses, sparse, limitTest };
        SharpPruneCli.SetHandler(cmd, ctx, parse =>
        {
            string path = checkpoint.Path(parse);
            var loaded = checkpoint.LoadModel(parse);
            string dataset = parse.GetValue(data) ?? loaded.Dataset
                ?? throw new CliUsageException($"{path} does not record its dataset; pass --data");
            dataset = DataSets.Info(dataset).Name;
            var (_, test) = DataSets.Load(dataset, parse.GetValue(dataDir) ?? loaded.RecordedDataDir(dataset), loaded.InputShape, loaded.ModelName);
            if (test.NumClasses != loaded.NumClasses)
                throw new CliUsageException($"{path} holds a {loaded.NumClasses}-class model but {dataset} has {test.NumClasses} classes");
            if (parse.GetValue(sparse))
            {
                var choices = SparseInference.ToInference(loaded.Model);
                if (!parse.GetValue(json))
                    ctx.Out.WriteLine("sparse layers: " + string.Join(", ", choices.Select(c =>
                        string.Format(CultureInfo.InvariantCulture, "{0} {1:F1}% {2}", c.Path, 100 * c.Density, c.Sparse ? "sparse" : "dense"))));
            }
            var testSet = DatasetLimit.Take(test, parse.GetValue(limitTest));
            var loader = new DataLoader(testSet, parse.GetValue(batch), shuffle: false, Transforms.Test(dataset), seed: 0);
            var r = Evaluator.Evaluate(loaded.Model, loader);
            if (parse.GetValue(json))
                ctx.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    checkpoint = path, model = loaded.ModelName, dataset = testSet.Name,
                    loss = r.Loss, accuracy = r.Accuracy, correct = r.Correct, count = r.Count,
                }));
            else
                ctx.Out.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0} on {1}: test loss {2:F4}, accuracy {3:F2}% ({4}/{5})",
                    loaded.ModelName, testSet.Name, r.Loss, r.Accuracy, r.Correct, r.Count));
            return 0;
        });
        return cmd;
    }
}
