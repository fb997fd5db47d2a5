namespace SharpPrune.Vision.Data;

public static partial class Datasets
{
    private const string IdxTrainImages = "train-images-idx3-ubyte", IdxTrainLabels = "train-labels-idx1-ubyte";
    private const string IdxTestImages = "t10k-images-idx3-ubyte", IdxTestLabels = "t10k-labels-idx1-ubyte";
    private static readonly string[] IdxFiles = [IdxTrainImages, IdxTrainLabels, IdxTestImages, IdxTestLabels];

    private static (ImageDataset, ImageDataset) LoadIdx(DatasetInfo info, string dataDir)
    {
        // Besides the directory itself, accept torchvision's layout (MNIST/raw, FashionMNIST/raw) and a plain subfolder.
        string[] subdirs = info.Name == "mnist" ? ["MNIST/raw", "mnist", "raw"] : ["FashionMNIST/raw", "fashion-mnist", "raw"];
        string dir = DataDirectory.Resolve(info.Name, dataDir, subdirs, IdxFiles, allowGz: true);
        var train = ReadIdxSplit($"{info.Name}/train", DataDirectory.Find(dir, IdxTrainImages)!, DataDirectory.Find(dir, IdxTrainLabels)!, info.NumClasses);
        var test = ReadIdxSplit($"{info.Name}/test", DataDirectory.Find(dir, IdxTestImages)!, DataDirectory.Find(dir, IdxTestLabels)!, info.NumClasses);
        if (train.Height != test.Height || train.Width != test.Width)
            throw new InvalidDataException(
                $"{info.Name} in {dir}: train images are {train.Height}x{train.Width} but test images are {test.Height}x{test.Width}");
        return (train, test);
    }

    private static ImageDataset ReadIdxSplit(string name, string imagesPath, string labelsPath, int numClasses)
    {
        var images = IdxFormat.ReadImages(imagesPath);
        int[] labels = IdxFormat.ReadLabels(labelsPath, numClasses);
        if (labels.Length != images.Count)
            throw new InvalidDataException(
                $"{images.FileName} has {images.Count} images but {Path.GetFileName(labelsPath)} has {labels.Length} labels");
        return new ImageDataset(name, images.Pixels, labels, 1, images.Rows, images.Cols, numClasses);
    }
}
